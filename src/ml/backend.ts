import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { ConfigError } from '../errors.ts';
import { childLogger } from '../log.ts';
import { registerWasmSegmentSum } from './segmentSumKernel.ts';

/** What a user asks for with `NIGHTSHIFT_BACKEND`. */
export type BackendRequest = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
/** What was chosen; recorded in every model version's lineage. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export interface PassedOverBackend {
  name: BackendName;
  reason: string;
}

export interface BackendChoice {
  name: BackendName;
  /** `tf.getBackend()` after the choice: `tensorflow`, `wasm` or `cpu`. */
  tfBackend: string;
  /** Human-readable specifics, e.g. `wasm SIMD, 1 thread`. */
  detail: string;
  /** Every backend tried before this one, with why it was not used. */
  passedOver: PassedOverBackend[];
}

/**
 * How backends are found and loaded. The real one resolves packages from this file's
 * node_modules; tests pass fakes to exercise the fallbacks without installing tfjs-node.
 */
export interface BackendLoader {
  isInstalled(packageName: string): boolean;
  importPackage(packageName: string): Promise<unknown>;
}

const require = createRequire(import.meta.url);

export const nodeBackendLoader: BackendLoader = {
  isInstalled(packageName) {
    try {
      require.resolve(packageName);
      return true;
    } catch {
      return false;
    }
  },
  // A variable specifier: the packages are optional peers and not known to the type checker.
  importPackage: (packageName) => import(packageName),
};

const TENSORFLOW_PACKAGES: readonly { name: BackendName; packageName: string }[] = [
  { name: 'tensorflow-gpu', packageName: '@tensorflow/tfjs-node-gpu' },
  { name: 'tensorflow', packageName: '@tensorflow/tfjs-node' },
];

const INSTALL_HINT =
  'install it with `npm install @tensorflow/tfjs-node@4.22.0` (or `@tensorflow/tfjs-node-gpu@4.22.0` with CUDA); ' +
  'its install downloads libtensorflow from storage.googleapis.com, which must be reachable. ' +
  'Or set NIGHTSHIFT_BACKEND=wasm (the default fallback) or cpu';

export function parseBackendRequest(value: string | undefined): BackendRequest {
  const request = (value ?? '').trim() === '' ? 'auto' : (value ?? '').trim().toLowerCase();
  if (!(BACKEND_REQUESTS as readonly string[]).includes(request)) {
    throw new ConfigError(
      `NIGHTSHIFT_BACKEND: expected one of ${BACKEND_REQUESTS.join(', ')}, found '${value}'`,
    );
  }
  return request as BackendRequest;
}

/** The folder holding tfjs-backend-wasm's .wasm binaries, with a trailing slash for setWasmPaths. */
export function wasmBinariesDir(): string {
  const simd = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm');
  return `${path.dirname(simd)}${path.sep}`;
}

let wasmPathsSet = false;

async function tryTensorflow(
  loader: BackendLoader,
  passedOver: PassedOverBackend[],
): Promise<BackendChoice | undefined> {
  for (const { name, packageName } of TENSORFLOW_PACKAGES) {
    if (!loader.isInstalled(packageName)) {
      passedOver.push({ name, reason: `${packageName} is not installed` });
      continue;
    }
    try {
      // Importing registers the `tensorflow` backend (native libtensorflow) with tfjs-core.
      await loader.importPackage(packageName);
      if (!(await tf.setBackend('tensorflow'))) throw new Error("tf.setBackend('tensorflow') returned false");
      return { name, tfBackend: tf.getBackend(), detail: `${packageName} (libtensorflow)`, passedOver };
    } catch (error) {
      passedOver.push({ name, reason: `${packageName} is installed but failed to load: ${String(error)}` });
    }
  }
  return undefined;
}

async function tryWasm(passedOver: PassedOverBackend[]): Promise<BackendChoice | undefined> {
  try {
    // setWasmPaths throws once the backend is initialised, so only the first call sets it.
    if (!wasmPathsSet) setWasmPaths(wasmBinariesDir());
    wasmPathsSet = true;
    registerWasmSegmentSum();
    if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') returned false");
    // Threads inside the wasm backend are off in Node (no threaded build loads there): parallelism
    // comes from worker threads, one model per worker.
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    return { name: 'wasm', tfBackend: 'wasm', detail: `wasm${simd ? ' SIMD' : ''}, 1 thread`, passedOver };
  } catch (error) {
    passedOver.push({ name: 'wasm', reason: `the wasm backend failed to start: ${String(error)}` });
    return undefined;
  }
}

async function useCpu(passedOver: PassedOverBackend[]): Promise<BackendChoice> {
  // Silences the cpu backend's "install tfjs-node" banner on stdout: the choice is logged by us.
  tf.env().set('PROD', true);
  if (!(await tf.setBackend('cpu')))
    throw new ConfigError("the cpu backend failed to start: tf.setBackend('cpu') returned false");
  return {
    name: 'cpu',
    tfBackend: 'cpu',
    detail: 'pure JavaScript (about 30x slower than wasm)',
    passedOver,
  };
}

/** Picks and activates a backend; does not log. Prefer `initBackend`, which memoises and logs. */
export async function selectBackend(
  request: BackendRequest,
  loader: BackendLoader = nodeBackendLoader,
): Promise<BackendChoice> {
  const passedOver: PassedOverBackend[] = [];
  if (request === 'cpu') return useCpu(passedOver);
  if (request === 'wasm') {
    const wasm = await tryWasm(passedOver);
    if (wasm) return wasm;
    throw new ConfigError(`NIGHTSHIFT_BACKEND=wasm: ${passedOver.map((p) => p.reason).join('; ')}`);
  }
  const tensorflow = await tryTensorflow(loader, passedOver);
  if (tensorflow) return tensorflow;
  if (request === 'tensorflow') {
    throw new ConfigError(
      `NIGHTSHIFT_BACKEND=tensorflow: ${passedOver.map((p) => p.reason).join('; ')}. To use it, ${INSTALL_HINT}`,
    );
  }
  return (await tryWasm(passedOver)) ?? useCpu(passedOver);
}

let active: { request: BackendRequest; choice: Promise<BackendChoice> } | undefined;

/**
 * Activates the backend for this process (or worker thread) once and logs the choice and why
 * others were passed over. Later calls with the same request return the same choice.
 */
export function initBackend(
  request: BackendRequest = parseBackendRequest(process.env.NIGHTSHIFT_BACKEND),
): Promise<BackendChoice> {
  if (active?.request === request) return active.choice;
  const choice = selectBackend(request).then((chosen) => {
    childLogger({ component: 'ml' }).info(
      { backend: chosen.name, request, detail: chosen.detail, passedOver: chosen.passedOver },
      `ML backend: ${chosen.name} (${chosen.detail})`,
    );
    return chosen;
  });
  active = { request, choice };
  // A failed choice is not cached: the next call tries again (and fails again, loudly).
  choice.catch(() => {
    if (active?.choice === choice) active = undefined;
  });
  return choice;
}
