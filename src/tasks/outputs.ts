import type { JsonObject, JsonValue } from '../dag/types.ts';

/**
 * Task outputs are JSON: a metric that could not be measured is null (its reason is recorded
 * next to it), never NaN, which the runner refuses.
 */
export function finiteOrNull(values: Record<string, unknown>, digits = 4): JsonObject {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [
      key,
      typeof value === 'number' && Number.isFinite(value) ? Number(value.toFixed(digits)) : null,
    ]),
  );
}

/** A plain-data value as JSON: non-finite numbers become null, undefined fields are dropped. */
export function toJson(value: unknown): JsonValue {
  return JSON.parse(
    JSON.stringify(value, (_key, item) => (typeof item === 'number' && !Number.isFinite(item) ? null : item)),
  ) as JsonValue;
}
