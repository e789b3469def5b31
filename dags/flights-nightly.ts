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
    // Six epochs rather than the pipeline's twelve: a night stays near half a minute on two
    // cores, and early stopping ends most runs before twelve anyway.
    trainingOverrides: { epochs: 6 },
  }),
});
