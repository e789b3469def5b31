import { defineFeatures } from '../../src/data/index.ts';

/**
 * Features of the flights-delay model, read from `data/flights/date=D/` partitions (see
 * docs/features.md for the format). 9 floats a row: distance, hour of day (sin, cos), day of
 * week (sin, cos), day of year (sin, cos), then origin and destination as vocabulary indices
 * (integer-valued floats, 0 for an airport outside the training window's top 100) for the
 * model to embed.
 */
export const flightsDelayFeatures = defineFeatures({
  name: 'flights-delay',
  version: 1,
  id: 'flight_id',
  features: {
    // Distances are long-tailed (21 to 4,962 miles): clip the extremes, compress, standardise.
    distance: {
      kind: 'numeric',
      column: 'distance',
      clip: { quantiles: [0.001, 0.999] },
      log1p: true,
      standardize: true,
    },
    departure_hour: { kind: 'cyclic', column: 'departure_time', unit: 'hourOfDay' },
    departure_weekday: { kind: 'cyclic', column: 'departure_time', unit: 'dayOfWeek' },
    departure_season: { kind: 'cyclic', column: 'departure_time', unit: 'dayOfYear' },
    origin: {
      kind: 'categorical',
      column: 'origin',
      encoding: { type: 'vocabulary', topN: 100, minCount: 10 },
    },
    destination: {
      kind: 'categorical',
      column: 'destination',
      encoding: { type: 'vocabulary', topN: 100, minCount: 10 },
    },
  },
  // Delayed: more than 15 minutes late, the Bureau of Transportation Statistics' definition.
  label: { kind: 'binary', column: 'delay', positiveWhen: { op: '>', value: 15 } },
  slices: ['origin'],
});
