import { ConfigError } from '../errors.ts';

export type Clock = () => Date;

/**
 * The scheduler's clock. `NIGHTSHIFT_NOW` (an ISO 8601 instant) pins "now" for tests and for
 * replaying a day; otherwise the system clock.
 */
export function clockFromEnv(env: NodeJS.ProcessEnv = process.env): Clock {
  const pinned = env.NIGHTSHIFT_NOW?.trim();
  if (!pinned) return () => new Date();
  const date = new Date(pinned);
  if (Number.isNaN(date.getTime())) {
    throw new ConfigError(
      `invalid NIGHTSHIFT_NOW '${pinned}': expected an ISO 8601 instant such as 2001-02-03T04:05:00Z`,
    );
  }
  return () => new Date(date);
}
