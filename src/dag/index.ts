export { assertTimeZone, cronError, nextFireTime } from './cron.ts';
export { DagDefinitionError, defineDag, isDag, isIsoDate } from './define.ts';
export {
  type DagSummary,
  type RunSummary,
  summarizeDag,
  summarizeRun,
  summarizeTasks,
  type TaskSummary,
} from './describe.ts';
export { MAX_LEASE_EXPIRATIONS } from './execute.ts';
export { dataIntervalFor, formatLogicalDate, parseLogicalDate, runForDay } from './interval.ts';
export { findDag, type LoadedDags, listDagFiles, loadDagFile, loadDags } from './load.ts';
export { MAX_OUTPUT_BYTES } from './outputs.ts';
export { defaultLeaseMs, ownerId, type RunDagOptions, type RunDagResult, runDag } from './runner.ts';
export { type ClearOptions, type ClearResult, clearTaskInstances } from './sql/clearTaskInstances.ts';
export type { DagRun, TaskAttempt, TaskInstance } from './sql/rows.ts';
export { getRun, getRunProgress, listRuns, listTaskAttempts, listTaskInstances } from './sql/runQueries.ts';
export { decideReadiness, decideRunState, retryDelay, shouldRetry } from './states.ts';
export { describeTrigger, isValidKafkaTopic } from './triggers.ts';
export * from './types.ts';
