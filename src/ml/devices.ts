import { ConfigError } from '../errors.ts';

/**
 * Scoring-worker planning. With tfjs-node-gpu each worker owns one GPU, chosen through its own
 * `CUDA_VISIBLE_DEVICES`; on CPU backends there is one worker per core. Pure functions: the GPU
 * path cannot run on this project's machines, so these are what the tests cover.
 */

/**
 * Devices listed in a `CUDA_VISIBLE_DEVICES` value: indices or `GPU-<uuid>` / `MIG-...` ids.
 * Empty, unset, `-1` or `NoDevFiles` mean no GPU; CUDA ignores everything after an invalid entry.
 */
export function parseCudaDevices(value: string | undefined): string[] {
  if (value === undefined) return [];
  const devices: string[] = [];
  for (const raw of value.split(',')) {
    const device = raw.trim();
    if (device === '' || device === 'NoDevFiles') break;
    if (/^-?\d+$/.test(device)) {
      if (Number(device) < 0) break;
    } else if (!/^(GPU|MIG)-[\w/-]+$/.test(device)) {
      break;
    }
    devices.push(device);
  }
  return devices;
}

export interface ScoringWorkerPlan {
  index: number;
  /** Environment overrides for the worker (its GPU); empty on CPU backends. */
  env: Record<string, string>;
}

export interface PlanScoringWorkersOptions {
  /** `true` when the backend is tfjs-node-gpu. */
  gpu: boolean;
  /** Visible GPU ids (from `parseCudaDevices`); needed when `gpu`. */
  devices?: readonly string[];
  /** Cores available (`os.availableParallelism()`). */
  cores: number;
  /** `--workers N`; defaults to one per core, or one per GPU. */
  requested?: number;
}

export function planScoringWorkers(options: PlanScoringWorkersOptions): ScoringWorkerPlan[] {
  const { requested } = options;
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 1)) {
    throw new ConfigError(`workers: expected a positive integer, found ${requested}`);
  }
  if (!options.gpu) {
    const count = requested ?? Math.max(1, options.cores);
    return Array.from({ length: count }, (_, index) => ({ index, env: {} }));
  }
  const devices = options.devices ?? [];
  if (devices.length === 0) {
    throw new ConfigError(
      'the GPU backend needs at least one visible device: CUDA_VISIBLE_DEVICES is empty or -1',
    );
  }
  // Two models on one GPU contend for its memory and gain nothing: at most one worker per GPU.
  const count = Math.min(requested ?? devices.length, devices.length);
  return devices.slice(0, count).map((device, index) => ({ index, env: { CUDA_VISIBLE_DEVICES: device } }));
}
