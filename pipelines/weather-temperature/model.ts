import { buildTabularModel, type ModelRecipe } from '../../src/index.ts';
import { weatherTemperatureTraining } from './settings.ts';

/**
 * The day's high temperature (degrees Celsius) from the station, the season, the day's low,
 * precipitation, wind and the kind of weather. The baseline is each (station, month) group's
 * mean high over the training window: what a climatology table knows.
 */
export const weatherTemperatureModel: ModelRecipe = {
  name: 'weather-temperature',
  dataset: 'weather',
  task: 'regression',
  baseline: { slice: 'location', bucket: { feature: 'season', buckets: 12 } },
  build: (layout, seed) =>
    buildTabularModel(layout, { seed, hidden: [16, 8], embeddingDim: 3, output: 'linear' }),
  training: weatherTemperatureTraining,
};
