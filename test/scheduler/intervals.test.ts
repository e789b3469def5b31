import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { formatLogicalDate, runForDay } from '../../src/dag/index.ts';
import {
  backfillIntervals,
  dueIntervals,
  latestDueInterval,
  latestFireTimeAtOrBefore,
  planScheduledRuns,
  type ScheduleSpec,
} from '../../src/scheduler/intervals.ts';

const at = (iso: string) => new Date(iso);
const iso = (date: Date) => date.toISOString();
const local = (date: Date, zone: string) =>
  DateTime.fromJSDate(date, { zone }).toFormat("yyyy-MM-dd'T'HH:mm ZZ");
const hours = (interval: { start: Date; end: Date }) =>
  (interval.end.getTime() - interval.start.getTime()) / 3_600_000;

const daily: ScheduleSpec = {
  schedule: '0 2 * * *',
  timezone: 'UTC',
  startDate: '2001-01-01',
  catchup: true,
  maxActiveRuns: 16,
};
const none = () => false;

describe('data intervals', () => {
  it('makes the run for [start, end) due at end, with start as its logical date', () => {
    const before = [
      ...dueIntervals(daily, { lastScheduledLogicalDate: undefined, now: at('2001-01-02T01:59:59Z') }),
    ];
    expect(before).toEqual([]);
    const due = [
      ...dueIntervals(daily, { lastScheduledLogicalDate: undefined, now: at('2001-01-02T02:00:00Z') }),
    ];
    expect(due).toEqual([{ start: at('2001-01-01T02:00:00Z'), end: at('2001-01-02T02:00:00Z') }]);
  });

  it('catches up every missed interval in order, after the last scheduled run', () => {
    const due = [
      ...dueIntervals(daily, {
        lastScheduledLogicalDate: at('2001-01-03T02:00:00Z'),
        now: at('2001-01-08T03:00:00Z'),
      }),
    ];
    expect(due.map((interval) => formatLogicalDate(interval.start, 'UTC'))).toEqual([
      '2001-01-04',
      '2001-01-05',
      '2001-01-06',
      '2001-01-07',
    ]);
  });

  it('without catch-up creates only the latest due interval, once', () => {
    const spec = { ...daily, catchup: false };
    const now = at('2001-01-08T03:00:00Z');
    const due = [...dueIntervals(spec, { lastScheduledLogicalDate: at('2001-01-03T02:00:00Z'), now })];
    expect(due.map((interval) => iso(interval.start))).toEqual(['2001-01-07T02:00:00.000Z']);
    expect([...dueIntervals(spec, { lastScheduledLogicalDate: at('2001-01-07T02:00:00Z'), now })]).toEqual(
      [],
    );
  });

  it('starts from startDate and never before it', () => {
    const spec = { ...daily, startDate: '2001-01-05', catchup: false };
    expect([
      ...dueIntervals(spec, { lastScheduledLogicalDate: undefined, now: at('2001-01-05T12:00:00Z') }),
    ]).toEqual([]);
    const caught = [
      ...dueIntervals(
        { ...spec, catchup: true },
        {
          lastScheduledLogicalDate: undefined,
          now: at('2001-01-07T12:00:00Z'),
        },
      ),
    ];
    expect(caught.map((interval) => formatLogicalDate(interval.start, 'UTC'))).toEqual([
      '2001-01-05',
      '2001-01-06',
    ]);
  });

  it('caps the created runs so that active runs stay within maxActiveRuns, oldest first', () => {
    const spec = { ...daily, maxActiveRuns: 3 };
    const input = { lastScheduledLogicalDate: undefined, now: at('2001-02-01T00:00:00Z'), runExists: none };
    expect(
      planScheduledRuns(spec, { ...input, activeRuns: 0 }).map((i) => formatLogicalDate(i.start, 'UTC')),
    ).toEqual(['2001-01-01', '2001-01-02', '2001-01-03']);
    expect(planScheduledRuns(spec, { ...input, activeRuns: 2 })).toHaveLength(1);
    expect(planScheduledRuns(spec, { ...input, activeRuns: 3 })).toEqual([]);
    expect(planScheduledRuns(spec, { ...input, activeRuns: 5 })).toEqual([]);
  });

  it('skips intervals that already have a run (manual, backfill) without using a slot', () => {
    const spec = { ...daily, maxActiveRuns: 2 };
    const taken = new Set([at('2001-01-01T02:00:00Z').getTime(), at('2001-01-02T02:00:00Z').getTime()]);
    const planned = planScheduledRuns(spec, {
      lastScheduledLogicalDate: undefined,
      now: at('2001-02-01T00:00:00Z'),
      activeRuns: 0,
      runExists: (date) => taken.has(date.getTime()),
    });
    expect(planned.map((i) => formatLogicalDate(i.start, 'UTC'))).toEqual(['2001-01-03', '2001-01-04']);
  });

  it('is lazy: catch-up of a minutely schedule over years takes only what fits', () => {
    const spec: ScheduleSpec = { ...daily, schedule: '* * * * *', maxActiveRuns: 2 };
    const started = Date.now();
    const planned = planScheduledRuns(spec, {
      lastScheduledLogicalDate: undefined,
      now: at('2025-01-01T00:00:00Z'),
      activeRuns: 0,
      runExists: none,
    });
    expect(planned.map((i) => iso(i.start))).toEqual([
      '2001-01-01T00:00:00.000Z',
      '2001-01-01T00:01:00.000Z',
    ]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a restart resumes after the last scheduled run: no interval missed or repeated', () => {
    const spec = { ...daily, maxActiveRuns: 100 };
    const first = [
      ...dueIntervals(spec, { lastScheduledLogicalDate: undefined, now: at('2001-01-04T02:30:00Z') }),
    ];
    const last = first.at(-1)?.start;
    const second = [
      ...dueIntervals(spec, { lastScheduledLogicalDate: last, now: at('2001-01-07T02:30:00Z') }),
    ];
    const all = [...first, ...second].map((i) => formatLogicalDate(i.start, 'UTC'));
    expect(all).toEqual(['2001-01-01', '2001-01-02', '2001-01-03', '2001-01-04', '2001-01-05', '2001-01-06']);
  });
});

describe('daylight-saving changes', () => {
  const paris = 'Europe/Paris';
  const newYork = 'America/New_York';
  const logicalDates = (schedule: string, zone: string, from: string, to: string) =>
    backfillIntervals(schedule, zone, from, to).map((i) => ({
      date: formatLogicalDate(i.start, zone),
      start: local(i.start, zone),
      hours: hours(i),
    }));

  it("'0 2 * * *' in Europe/Paris: 2001-03-25 has no 02:00, its run starts at 03:00 and lasts 23 h", () => {
    expect(logicalDates('0 2 * * *', paris, '2001-03-24', '2001-03-26')).toEqual([
      { date: '2001-03-24', start: '2001-03-24T02:00 +01:00', hours: 24 },
      { date: '2001-03-25', start: '2001-03-25T03:00 +02:00', hours: 23 },
      { date: '2001-03-26', start: '2001-03-26T02:00 +02:00', hours: 24 },
    ]);
  });

  it("'0 2 * * *' in Europe/Paris: 2001-10-28 has two 02:00s, one run lasting 25 h", () => {
    expect(logicalDates('0 2 * * *', paris, '2001-10-27', '2001-10-29')).toEqual([
      { date: '2001-10-27', start: '2001-10-27T02:00 +02:00', hours: 24 },
      { date: '2001-10-28', start: '2001-10-28T02:00 +02:00', hours: 25 },
      { date: '2001-10-29', start: '2001-10-29T02:00 +01:00', hours: 24 },
    ]);
  });

  it("'30 1 * * *' in Europe/Paris: one run a day across both changes (01:30 exists once)", () => {
    expect(
      logicalDates('30 1 * * *', paris, '2001-03-24', '2001-03-26').map((d) => [d.date, d.hours]),
    ).toEqual([
      ['2001-03-24', 24],
      ['2001-03-25', 23],
      ['2001-03-26', 24],
    ]);
    expect(
      logicalDates('30 1 * * *', paris, '2001-10-27', '2001-10-29').map((d) => [d.date, d.hours]),
    ).toEqual([
      ['2001-10-27', 24],
      ['2001-10-28', 25],
      ['2001-10-29', 24],
    ]);
  });

  it("'30 1 * * *' in America/New_York: 2001-10-28 01:30 happens twice, it runs once", () => {
    expect(logicalDates('30 1 * * *', newYork, '2001-10-27', '2001-10-29')).toEqual([
      { date: '2001-10-27', start: '2001-10-27T01:30 -04:00', hours: 24 },
      { date: '2001-10-28', start: '2001-10-28T01:30 -04:00', hours: 25 },
      { date: '2001-10-29', start: '2001-10-29T01:30 -05:00', hours: 24 },
    ]);
  });

  it("'0 2 * * *' in America/New_York: 2001-04-01 has no 02:00, its run starts at 03:00", () => {
    expect(logicalDates('0 2 * * *', newYork, '2001-03-31', '2001-04-02')).toEqual([
      { date: '2001-03-31', start: '2001-03-31T02:00 -05:00', hours: 24 },
      { date: '2001-04-01', start: '2001-04-01T03:00 -04:00', hours: 23 },
      { date: '2001-04-02', start: '2001-04-02T02:00 -04:00', hours: 24 },
    ]);
  });

  it('hourly in Europe/Paris on 2001-10-28: 25 runs that tile the day', () => {
    const intervals = backfillIntervals('0 * * * *', paris, '2001-10-28', '2001-10-28');
    expect(intervals).toHaveLength(25);
    for (const [index, interval] of intervals.entries()) {
      expect(hours(interval)).toBe(1);
      if (index > 0) expect(interval.start).toEqual(intervals[index - 1]?.end);
    }
  });

  it('the latest fire time agrees with next() where prev() does not', () => {
    // prev() from here returns 02:00 CET (01:00Z), a time next() never fires.
    expect(iso(latestFireTimeAtOrBefore('0 2 * * *', paris, at('2001-10-28T01:30:00Z')))).toBe(
      '2001-10-28T00:00:00.000Z',
    );
    // prev() from here skips 2001-03-25 (03:00 CEST = 01:00Z).
    expect(iso(latestFireTimeAtOrBefore('0 2 * * *', paris, at('2001-03-25T12:00:00Z')))).toBe(
      '2001-03-25T01:00:00.000Z',
    );
    expect(iso(latestFireTimeAtOrBefore('30 1 * * *', newYork, at('2001-10-28T06:45:00Z')))).toBe(
      '2001-10-28T05:30:00.000Z',
    );
    expect(iso(latestFireTimeAtOrBefore('0 2 * * *', 'UTC', at('2001-01-05T02:00:00Z')))).toBe(
      '2001-01-05T02:00:00.000Z',
    );
  });

  it('catch-up across both Paris changes creates each day once, in order, tiling time', () => {
    const spec: ScheduleSpec = { ...daily, timezone: paris, startDate: '2001-03-20', catchup: true };
    const due = [
      ...dueIntervals(spec, { lastScheduledLogicalDate: undefined, now: at('2001-11-02T00:00:00Z') }),
    ];
    const dates = due.map((i) => formatLogicalDate(i.start, paris));
    expect(new Set(dates).size).toBe(dates.length);
    expect(dates[0]).toBe('2001-03-20');
    expect(dates.at(-1)).toBe('2001-10-31');
    expect(dates).toHaveLength(226);
    for (let index = 1; index < due.length; index++) expect(due[index]?.start).toEqual(due[index - 1]?.end);
  });

  it('without catch-up, the latest interval on the change days is the one next() gives', () => {
    const spec: ScheduleSpec = { ...daily, timezone: paris, catchup: false };
    const latest = latestDueInterval(spec.schedule, paris, at('2001-10-29T02:00:00Z'));
    expect([local(latest.start, paris), hours(latest)]).toEqual(['2001-10-28T02:00 +02:00', 25]);
    const spring = latestDueInterval(spec.schedule, paris, at('2001-03-26T12:00:00Z'));
    expect([local(spring.start, paris), hours(spring)]).toEqual(['2001-03-25T03:00 +02:00', 23]);
  });

  it("agrees with the engine's runForDay on the logical date and interval of each day", () => {
    for (const [schedule, zone, from, to] of [
      ['0 2 * * *', paris, '2001-03-23', '2001-03-27'],
      ['0 2 * * *', paris, '2001-10-26', '2001-10-30'],
      ['30 1 * * *', newYork, '2001-10-26', '2001-10-30'],
    ] as const) {
      for (const interval of backfillIntervals(schedule, zone, from, to)) {
        const day = formatLogicalDate(interval.start, zone);
        expect(runForDay({ id: 'x', schedule, timezone: zone }, day)).toEqual(interval);
      }
    }
  });
});
