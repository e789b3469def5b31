import {
  weatherTemperatureBlessingRules,
  weatherTemperatureRollback,
} from '../pipelines/weather-temperature/validation.ts';
import { defineDag, nightlyTasks } from '../src/index.ts';

/**
 * Every night for day D: check that the imported weather days are there, check yesterday's
 * champion on fresh labels, score D, train a candidate on the year before the holdout, validate
 * it against the champion on the 28-day holdout, then promote it or keep the champion.
 * Data: `npx nightshift data import weather node_modules/vega-datasets/data/weather.csv
 * --date-column date --id-column location` (2012 to 2015).
 */
export default defineDag({
  id: 'weather-nightly',
  description:
    'Daily high temperature: score the day, retrain, validate against the champion, promote or keep',
  schedule: '@daily',
  timezone: 'UTC',
  startDate: '2013-02-01',
  catchup: false,
  maxActiveRuns: 1,
  tasks: nightlyTasks({
    pipeline: 'weather-temperature',
    blessingRules: weatherTemperatureBlessingRules,
    rollback: weatherTemperatureRollback,
  }),
});
