import { flightsDelayBlessingRules, flightsDelayRollback } from '../pipelines/flights-delay/validation.ts';
import { defineDag } from '../src/dag/index.ts';
import { nightlyTasks } from '../src/tasks/index.ts';

/**
 * Every night for day D: ingest D's flights, check yesterday's champion on fresh labels (and
 * roll back if it does worse than the version before it), score D with the champion, train a
 * candidate on the 28 days before D-1, validate it against the champion on D-1, then promote it
 * or keep the champion.
 */
export default defineDag({
  id: 'flights-nightly',
  description: 'Flight delay model: score the day, retrain, validate against the champion, promote or keep',
  schedule: '@daily',
  timezone: 'UTC',
  startDate: '2001-02-01',
  catchup: false,
  maxActiveRuns: 1,
  tasks: nightlyTasks({
    pipeline: 'flights-delay',
    blessingRules: flightsDelayBlessingRules,
    rollback: flightsDelayRollback,
    // Four epochs rather than the pipeline's twelve: with six, training was 43 s of a 48 s night
    // and `demo` (14 nights) took 10m33s on this 2-core machine; a nightly candidate is measured
    // against the champion anyway, so freshness matters more than the last epochs.
    trainingOverrides: { epochs: 4 },
  }),
});
