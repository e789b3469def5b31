import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DagValidationError, errorMessage } from '../errors.ts';
import { DagDefinitionError, isDag } from './define.ts';
import type { Dag } from './types.ts';

export interface LoadedDags {
  dags: Dag[];
  /** One per file that failed; the other files still load. */
  errors: DagValidationError[];
}

const DAG_FILE = /\.(ts|mts|js|mjs)$/;

export function listDagFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter(
      (file) =>
        DAG_FILE.test(file) && !file.endsWith('.d.ts') && !file.startsWith('_') && !file.startsWith('.'),
    )
    .sort()
    .map((file) => path.join(dir, file));
}

/**
 * Loads one DAG file. It must `export default defineDag({...})`, and its id must match the
 * file name (`dags/<id>.ts`), so that `run <id>` loads one file rather than all of them.
 */
export async function loadDagFile(file: string): Promise<Dag> {
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (error) {
    const message = error instanceof DagDefinitionError ? error.message : describeImportError(error);
    throw new DagValidationError(file, message, { cause: error });
  }
  const dag = module.default;
  if (!isDag(dag)) {
    throw new DagValidationError(file, 'expected `export default defineDag({...})`');
  }
  const expected = path.basename(file).replace(DAG_FILE, '');
  if (dag.id !== expected) {
    throw new DagValidationError(
      file,
      `declares DAG id '${dag.id}' but DAG files are named after their id: rename it ${dag.id}${path.extname(file)}`,
    );
  }
  for (const task of dag.tasks) {
    try {
      await task.check?.();
    } catch (error) {
      throw new DagValidationError(file, `task '${task.id}': ${errorMessage(error)}`, { cause: error });
    }
  }
  return { ...dag, file };
}

export async function loadDags(dir: string): Promise<LoadedDags> {
  const dags: Dag[] = [];
  const errors: DagValidationError[] = [];
  for (const file of listDagFiles(dir)) {
    try {
      dags.push(await loadDagFile(file));
    } catch (error) {
      errors.push(error instanceof DagValidationError ? error : new DagValidationError(file, String(error)));
    }
  }
  return { dags, errors };
}

/** Finds one DAG by id: its own file when there is one, else a scan of the folder. */
export async function findDag(dir: string, id: string): Promise<Dag | undefined> {
  // An id is a file name in the DAGs folder, never a path.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id) || id.includes('..')) return undefined;
  for (const extension of ['.ts', '.mts', '.js', '.mjs']) {
    const file = path.join(dir, `${id}${extension}`);
    if (fs.existsSync(file)) return loadDagFile(file);
  }
  return undefined;
}

function describeImportError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (/require\(\) ES Module|Cannot use import statement outside a module/.test(error.message)) {
    return 'failed to load as an ES module: DAG files are ES modules; put a package.json with "type": "module" in their folder, or name them .mts';
  }
  // esbuild (through tsx) reports syntax errors with the line and column in its message.
  const firstLines = error.message.split('\n').slice(0, 4).join(' ').replace(/\s+/g, ' ').trim();
  return `${error.name === 'Error' ? 'failed to load' : error.name}: ${firstLines}`;
}
