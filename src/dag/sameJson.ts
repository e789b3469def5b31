import type { JsonValue } from './types.ts';

/**
 * Whether two JSON values are equal as JSON: objects by their keys whatever their order, arrays
 * in order, numbers by value. A `conf` read back from jsonb has its keys reordered (jsonb sorts
 * them by length, then bytes), so comparing texts would refuse the very `--conf` it stored.
 */
export function sameJson(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => sameJson(item, b[index]));
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && sameJson(a[key], b[key]));
}
