export { evaluateVersion, type VersionEvaluation } from './evaluate.ts';
export { type NightlyOptions, nightlyTasks } from './nightly.ts';
