import type { JsonValue } from './types.ts';

/** Task outputs are small JSON values; large results belong in files whose paths are the output. */
export const MAX_OUTPUT_BYTES = 64 * 1024;

/** Checks a task's return value: JSON, finite numbers, within the size limit. */
export function normalizeOutputs(taskId: string, value: unknown): JsonValue | null {
  if (value === undefined || value === null) return null;
  let text: string;
  try {
    text = JSON.stringify(value, (key, item: unknown) => {
      if (typeof item === 'number' && !Number.isFinite(item)) {
        throw new TypeError(`output '${key}' is ${item}: expected a finite number`);
      }
      if (typeof item === 'bigint' || typeof item === 'function' || typeof item === 'symbol') {
        throw new TypeError(`output '${key}' is a ${typeof item}: expected a JSON value`);
      }
      return item;
    });
  } catch (error) {
    throw new TypeError(`task '${taskId}' returned outputs that are not JSON: ${(error as Error).message}`);
  }
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_OUTPUT_BYTES) {
    throw new RangeError(
      `task '${taskId}' returned ${bytes} bytes of outputs; the limit is ${MAX_OUTPUT_BYTES}: write large results to files and return their paths`,
    );
  }
  return JSON.parse(text) as JsonValue;
}
