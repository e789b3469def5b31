import { defineFeatures } from '../../src/index.ts';

/**
 * Features of the weather-temperature model, read from `data/weather/date=D/` partitions made by
 * `nightshift data import weather node_modules/vega-datasets/data/weather.csv --date-column date
 * --id-column location`: daily observations of Seattle and New York, 2012 to 2015 (NOAA, shipped
 * in the `vega-datasets` package). One row per station a day, so the station is the row's id.
 */
export const weatherTemperatureFeatures = defineFeatures({
  name: 'weather-temperature',
  version: 1,
  id: 'location',
  features: {
    station: { kind: 'categorical', column: 'location', encoding: { type: 'vocabulary', topN: 10 } },
    season: { kind: 'cyclic', column: 'date', unit: 'dayOfYear' },
    // The day's low: the strongest single input (the high is the low plus the day's range).
    temp_min: { kind: 'numeric', column: 'temp_min', standardize: true },
    // 0 on most days, up to 118 mm: compress the tail.
    precipitation: {
      kind: 'numeric',
      column: 'precipitation',
      clip: { min: 0 },
      log1p: true,
      standardize: true,
    },
    wind: { kind: 'numeric', column: 'wind', standardize: true },
    // sun, rain, drizzle, fog, snow: a sunny day has a wider range between low and high.
    weather: { kind: 'categorical', column: 'weather', encoding: { type: 'vocabulary', topN: 10 } },
  },
  // The day's high in degrees Celsius.
  label: { kind: 'regression', column: 'temp_max' },
  slices: ['location'],
});
