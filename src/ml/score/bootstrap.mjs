// Worker threads do not inherit tsx's loader from `--import tsx` on Node 20 (the worker's
// entry resolves before the hooks apply: ERR_UNKNOWN_FILE_EXTENSION '.ts'), so each worker
// starts from this plain module, registers tsx, then imports its TypeScript entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
