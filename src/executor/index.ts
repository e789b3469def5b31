export { startQueuedRuns } from './startRuns.ts';
export { runWorker, type WorkerFinishedRun, type WorkerOptions, type WorkerReport } from './worker.ts';
export { countLiveWorkers, listWorkers, WORKER_LIVENESS_MS, type WorkerRow } from './workers.ts';
