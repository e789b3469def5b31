import { CronExpressionParser } from 'cron-parser';

/** Throws a message naming what is wrong when `timezone` is not an IANA time zone. */
export function assertTimeZone(timezone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new Error(`unknown time zone '${timezone}': expected an IANA name such as 'UTC' or 'Europe/Paris'`);
  }
}

/** Returns an error message when `expression` is not a valid cron schedule, else undefined. */
export function cronError(expression: string, timezone: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (!expression.trim().startsWith('@') && fields.length !== 5) {
    return `invalid cron expression '${expression}': expected 5 fields (minute hour day-of-month month day-of-week) or a preset such as @daily, found ${fields.length}`;
  }
  try {
    CronExpressionParser.parse(expression, { tz: timezone });
    return undefined;
  } catch (error) {
    return `invalid cron expression '${expression}': ${(error as Error).message}`;
  }
}

/** The first fire time strictly after `after`. */
export function nextFireTime(expression: string, timezone: string, after: Date): Date {
  return CronExpressionParser.parse(expression, { tz: timezone, currentDate: after }).next().toDate();
}
