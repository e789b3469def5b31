#!/usr/bin/env node
// Runs the TypeScript sources directly (no build step), so `npx nightshift` works right after
// `npm install`, and DAG files written in TypeScript load at run time the same way.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
