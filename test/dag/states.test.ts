import { describe, expect, it } from 'vitest';
import { decideReadiness, decideRunState, retryDelay, runForDay, shouldRetry } from '../../src/dag/index.ts';

describe('decideReadiness', () => {
  it('all_success waits, queues, propagates failure and skips', () => {
    expect(decideReadiness('all_success', [])).toBe('queued');
    expect(decideReadiness('all_success', ['success', 'running'])).toBeUndefined();
    expect(decideReadiness('all_success', ['success', 'up_for_retry'])).toBeUndefined();
    expect(decideReadiness('all_success', ['success', 'success'])).toBe('queued');
    expect(decideReadiness('all_success', ['failed', 'running'])).toBe('upstream_failed');
    expect(decideReadiness('all_success', ['upstream_failed', 'success'])).toBe('upstream_failed');
    expect(decideReadiness('all_success', ['skipped', 'success'])).toBe('skipped');
  });

  it('none_failed runs after skipped branches but not after failures', () => {
    expect(decideReadiness('none_failed', ['skipped', 'success'])).toBe('queued');
    expect(decideReadiness('none_failed', ['skipped', 'scheduled'])).toBeUndefined();
    expect(decideReadiness('none_failed', ['failed', 'success'])).toBe('upstream_failed');
  });

  it('all_done runs once everything upstream finished, whatever the outcome', () => {
    expect(decideReadiness('all_done', ['failed', 'running'])).toBeUndefined();
    expect(decideReadiness('all_done', ['failed', 'upstream_failed', 'skipped', 'success'])).toBe('queued');
  });
});

describe('retries', () => {
  const policy = { retryDelayMs: 100, retryBackoff: 'exponential' as const, maxRetryDelayMs: 1_000 };
  it('doubles the delay and caps it', () => {
    expect([1, 2, 3, 4, 5, 6].map((retry) => retryDelay(policy, retry))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(retryDelay({ ...policy, retryBackoff: 'fixed' }, 4)).toBe(100);
  });
  it('retries while failures do not exceed retries, and never non-retriable errors', () => {
    expect(shouldRetry({ failures: 1, retries: 2, retriable: true })).toBe(true);
    expect(shouldRetry({ failures: 2, retries: 2, retriable: true })).toBe(true);
    expect(shouldRetry({ failures: 3, retries: 2, retriable: true })).toBe(false);
    expect(shouldRetry({ failures: 1, retries: 2, retriable: false })).toBe(false);
  });
});

describe('decideRunState', () => {
  it('is decided by the leaves once all tasks finished', () => {
    expect(decideRunState(['success'], false)).toBeUndefined();
    expect(decideRunState(['success', 'skipped'], true)).toBe('success');
    expect(decideRunState(['success', 'upstream_failed'], true)).toBe('failed');
    expect(decideRunState(['failed'], true)).toBe('failed');
  });
});

describe('runForDay', () => {
  it('gives a calendar day in the DAG time zone without a schedule, 23 hours on a DST day', () => {
    const interval = runForDay({ id: 'd', schedule: undefined, timezone: 'Europe/Paris' }, '2001-03-25');
    expect(interval.start.toISOString()).toBe('2001-03-24T23:00:00.000Z');
    expect(interval.end.toISOString()).toBe('2001-03-25T22:00:00.000Z');
  });

  it('aligns to the schedule: the interval starts at the first fire time of that day', () => {
    const interval = runForDay({ id: 'd', schedule: '0 2 * * *', timezone: 'UTC' }, '2001-01-15');
    expect(interval.start.toISOString()).toBe('2001-01-15T02:00:00.000Z');
    expect(interval.end.toISOString()).toBe('2001-01-16T02:00:00.000Z');
  });

  it('refuses a day on which the schedule does not fire, naming the next one', () => {
    // 2001-01-15 was a Monday; the schedule fires on Sundays.
    expect(() =>
      runForDay({ id: 'weekly', schedule: '0 0 * * 0', timezone: 'UTC' }, '2001-01-15'),
    ).toThrowError(
      "DAG 'weekly' (schedule '0 0 * * 0') has no run on 2001-01-15: the next scheduled date is 2001-01-21",
    );
  });

  it('refuses a malformed date', () => {
    expect(() => runForDay({ id: 'd', schedule: undefined, timezone: 'UTC' }, '2001-13-45')).toThrowError(
      "invalid date '2001-13-45': expected a calendar date as YYYY-MM-DD",
    );
  });
});
