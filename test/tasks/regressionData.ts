import path from 'node:path';
import { addDays, type Day } from '../../src/data/index.ts';
import { writeTestPartition } from '../data/helpers.ts';

/**
 * Daily partitions of the synthetic regression (test/fixtures/pipelines/synthetic-regression):
 * minutes = 40 + 25 x + shop effect + 10 sin(hour) + uniform noise of +-5, never negative.
 * Deterministic: the values are hashes of the row's id. `constant` writes a day whose label is
 * the same on every row (R² is undefined on it).
 */
export async function writeRegressionDays(
  dataDir: string,
  options: { from: Day; days: number; rowsPerDay: number; constant?: Day[] },
): Promise<void> {
  const datasetDir = path.join(dataDir, 'synthetic');
  for (let index = 0; index < options.days; index++) {
    const day = addDays(options.from, index);
    const base = (index + 1) * 100_000;
    const unit = (salt: number) => `((hash(${base} + i * 8 + ${salt}) % 10000) / 10000.0)`;
    const minutes = options.constant?.includes(day)
      ? '30.0'
      : `GREATEST(0, 40 + 25 * x + CASE shop WHEN 'north' THEN 15 WHEN 'south' THEN -10 ELSE 0 END
           + 10 * sin(2 * pi() * hour / 24) + noise)`;
    await writeTestPartition(
      datasetDir,
      day,
      `SELECT id, hour, x, shop, CAST(${minutes} AS DOUBLE) AS minutes FROM (
         SELECT CAST(${base} + i AS BIGINT) AS id,
                CAST(floor(${unit(1)} * 24) AS INTEGER) AS hour,
                ${unit(2)} * 2 - 1 AS x,
                ['north', 'south', 'east', 'west'][1 + CAST(floor(${unit(3)} * 4) AS INTEGER)] AS shop,
                (${unit(4)} * 2 - 1) * 5 AS noise
         FROM range(${options.rowsPerDay}) t(i))`,
    );
  }
}
