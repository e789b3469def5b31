export { type Clock, clockFromEnv } from './clock.ts';
export {
  backfillIntervals,
  dueIntervals,
  fireTimeAfter,
  firstIntervalOnOrAfter,
  intervalsStartingBetween,
  latestDueInterval,
  latestFireTimeAtOrBefore,
  type PlanInput,
  planScheduledRuns,
  type ScheduleSpec,
} from './intervals.ts';
export { type ScheduledRun, scheduleDueRuns } from './scheduleDag.ts';
export { type FinishedRun, runScheduler, type SchedulerOptions, type SchedulerReport } from './scheduler.ts';
