import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { flightsDelayFeatures } from '../../pipelines/flights-delay/features.ts';
import { prefetchedChunks, TypedColumns, withDuckSession } from '../../src/data/duckdb.ts';
import { BatchBuilder } from '../../src/data/features/batches.ts';
import { segmentSource } from '../../src/data/features/source.ts';
import { vectorLayout } from '../../src/data/features/vector.ts';
import {
  defineFeatures,
  type FeatureBatch,
  type FittedFeatures,
  fitFeatures,
  listPartitions,
  loadFittedFeatures,
  openFeatureStream,
  type Partition,
  prepareFlights,
  readFeatures,
  saveFittedFeatures,
  serializeFittedFeatures,
} from '../../src/data/index.ts';
import { ConfigError } from '../../src/errors.ts';
import { parquetOf, query, tempDir, writeTestPartition } from './helpers.ts';

describe('flights-delay features', () => {
  let partitions: Partition[];
  let fitted: FittedFeatures;
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('features');
    const prepared = await prepareFlights({ dataDir: dir, from: '2001-01-02', to: '2001-01-03' });
    partitions = await listPartitions(prepared.datasetDir);
    fitted = await fitFeatures(flightsDelayFeatures, partitions.slice(0, 1));
  });

  it('fits statistics on the training window in a versioned, self-contained JSON', () => {
    expect(fitted.format).toBe(1);
    expect(fitted.spec).toEqual({ name: 'flights-delay', version: 1 });
    expect(fitted.fittedOn.dates).toEqual(['2001-01-02']);
    expect(fitted.slots.map((slot) => slot.name)).toEqual([
      'distance',
      'departure_hour_sin',
      'departure_hour_cos',
      'departure_weekday_sin',
      'departure_weekday_cos',
      'departure_season_sin',
      'departure_season_cos',
      'origin',
      'destination',
    ]);
    const distance = fitted.features[0];
    if (distance?.kind !== 'numeric') throw new Error('distance is numeric');
    expect(distance.std).toBeGreaterThan(0);
    expect(distance.clipMin).toBeLessThan(distance.clipMax ?? Number.NEGATIVE_INFINITY);
    const origin = fitted.features.find((feature) => feature.name === 'origin');
    expect(
      origin?.kind === 'categorical' && origin.encoding === 'vocabulary' && origin.vocabulary.length,
    ).toBe(100);
    expect(fitted.slots.find((slot) => slot.name === 'origin')?.cardinality).toBe(101);
  });

  it('computes each value as the spec says', async () => {
    const day = partitions[1] as Partition;
    const { batch } = await readFeatures({ partitions: [day], fitted });
    const raw = await query(
      `SELECT flight_id, epoch_us(departure_time), distance, origin, delay FROM ${parquetOf(day.files[0] as string)} ORDER BY flight_id`,
    );
    expect(batch.rowCount).toBe(raw.length);
    const distance = fitted.features[0];
    const origin = fitted.features.find((feature) => feature.name === 'origin');
    if (distance?.kind !== 'numeric' || origin?.kind !== 'categorical' || origin.encoding !== 'vocabulary')
      throw new Error('spec');
    const k = batch.featureCount;
    for (const row of [0, 1, 500, raw.length - 1]) {
      const [id, micros, miles, airport, delay] = raw[row] as [bigint, bigint, bigint, string, bigint];
      expect((batch.ids as BigInt64Array)[row]).toBe(id);
      const clipped = Math.min(
        Math.max(Number(miles), distance.clipMin ?? -Infinity),
        distance.clipMax ?? Infinity,
      );
      expect(batch.features[row * k]).toBeCloseTo((Math.log1p(clipped) - distance.mean) / distance.std, 5);
      const hours = (Number(micros) % 86_400_000_000) / 3_600_000_000;
      expect(batch.features[row * k + 1]).toBeCloseTo(Math.sin((2 * Math.PI * hours) / 24), 5);
      expect(batch.features[row * k + 2]).toBeCloseTo(Math.cos((2 * Math.PI * hours) / 24), 5);
      // 2001-01-03 was a Wednesday: ISO day 3, position 2/7 in the week.
      expect(batch.features[row * k + 3]).toBeCloseTo(Math.sin((2 * Math.PI * 2) / 7), 5);
      expect(batch.features[row * k + 7]).toBe(origin.vocabulary.indexOf(airport) + 1);
      expect(batch.labels?.[row]).toBe(Number(delay) > 15 ? 1 : 0);
      const slice = batch.slices[0];
      expect(slice?.values[slice.codes[row] as number]).toBe(airport);
    }
  });

  it('gives identical arrays every time, and from fitted JSON saved and loaded', async () => {
    const first = await readFeatures({ partitions, fitted });
    const file = path.join(dir, 'fitted.json');
    await saveFittedFeatures(file, fitted);
    const reloaded = await loadFittedFeatures(file);
    const second = await readFeatures({ partitions, fitted: reloaded });
    expectSameBatch(second.batch, first.batch);
    // In segments of 5,000 rows, which cut the days' files between row groups: the same rows.
    const segmented = await readFeatures({ partitions, fitted, segmentRows: 5_000 });
    expect(first.batch.rowCount).toBeGreaterThan(3 * 5_000);
    expectSameBatch(segmented.batch, first.batch);
    expect(reloaded).toEqual(fitted);
  });

  it('never refits at scoring: reading another day leaves the fitted stats unchanged', async () => {
    const before = serializeFittedFeatures(fitted);
    const scored = await readFeatures({ partitions: partitions.slice(1), fitted });
    expect(serializeFittedFeatures(fitted)).toBe(before);
    // Statistics fitted on day 2 itself differ: scoring day 2 with day 1's fit used day 1's.
    const refit = await fitFeatures(flightsDelayFeatures, partitions.slice(1));
    expect(refit.features[0]).not.toEqual(fitted.features[0]);
    const withRefit = await readFeatures({ partitions: partitions.slice(1), fitted: refit });
    expect(sameBytes(withRefit.batch.features, scored.batch.features)).toBe(false);
  });

  it('stops a segmented stream closed mid-read, letting the query in flight finish first', async () => {
    const stream = await openFeatureStream({ partitions, fitted, batchRows: 1000, segmentRows: 4000 });
    const reading = stream[Symbol.asyncIterator]();
    expect((await reading.next()).value?.rowCount).toBe(1000);
    // The next segment's query is running: closing now must not close the connection under it.
    stream.close();
    expect(await reading.next()).toEqual({ done: true, value: undefined });
    const after = await readFeatures({ partitions, fitted });
    expect(after.batch.rowCount).toBe(stream.validRows);
  });

  it('streams bounded batches that add up to the one-array read', async () => {
    const { batch: whole } = await readFeatures({ partitions, fitted });
    const stream = await openFeatureStream({ partitions, fitted, batchRows: 5_000 });
    const batches: FeatureBatch[] = [];
    for await (const batch of stream) batches.push(batch);
    expect(batches.every((batch) => batch.rowCount <= 5_000)).toBe(true);
    expect(batches.reduce((sum, batch) => sum + batch.rowCount, 0)).toBe(whole.rowCount);
    expect(stream.validRows).toBe(whole.rowCount);
    const features = new Float32Array(whole.features.length);
    let offset = 0;
    for (const batch of batches) {
      features.set(batch.features, offset);
      offset += batch.features.length;
    }
    expect(sameBytes(features, whole.features)).toBe(true);
    expect(batches.at(-1)?.ids.at(-1)).toBe(whole.ids.at(-1));
  });

  it('reads row ranges of files, aligned with row groups or not, in file order', async () => {
    const { batch: whole } = await readFeatures({ partitions, fitted });
    const [first, second] = partitions.map((partition) => partition.files[0] as string) as [string, string];
    const firstRows = partitions[0]?.manifest.rowCount as number;
    // Rows 8,192 to 16,383 of the first day (its second row group), then 100 rows of the second day.
    const ranges = new Map([
      [first, { from: 8192, to: 16_384 }],
      [second, { from: 1000, to: 1100 }],
    ]);
    const stream = await openFeatureStream({ partitions, fitted, rowRanges: ranges, batchRows: 3000 });
    const batches: FeatureBatch[] = [];
    for await (const batch of stream) batches.push(batch);
    expect(stream.report.rows).toBe(8192 + 100);
    const ids = batches.flatMap((batch) => [...(batch.ids as BigInt64Array)]);
    // Segments cut inside the ranges read the same rows.
    const segmented = await readFeatures({ partitions, fitted, rowRanges: ranges, segmentRows: 2500 });
    expect([...(segmented.batch.ids as BigInt64Array)]).toEqual(ids);
    const wholeIds = whole.ids as BigInt64Array;
    expect(ids).toEqual([
      ...wholeIds.subarray(8192, 16_384),
      ...wholeIds.subarray(firstRows + 1000, firstRows + 1100),
    ]);
    const k = whole.featureCount;
    const features = new Float32Array(ids.length * k);
    let offset = 0;
    for (const batch of batches) {
      features.set(batch.features, offset);
      offset += batch.features.length;
    }
    const expected = new Float32Array(ids.length * k);
    expected.set(whole.features.subarray(8192 * k, 16_384 * k));
    expected.set(whole.features.subarray((firstRows + 1000) * k, (firstRows + 1100) * k), 8192 * k);
    expect(sameBytes(features, expected)).toBe(true);
  });

  it('supports another schema: hashing, a period, fixed clips and a regression label', async () => {
    const spec = defineFeatures({
      name: 'delay-minutes',
      version: 3,
      id: 'flight_id',
      features: {
        route: { kind: 'categorical', column: 'destination', encoding: { type: 'hash', buckets: 16 } },
        distance: { kind: 'numeric', column: 'distance', clip: { min: 100, max: 2000 } },
        id_cycle: { kind: 'cyclic', column: 'flight_id', period: 10 },
        month: { kind: 'cyclic', column: 'departure_time', unit: 'monthOfYear' },
      },
      label: { kind: 'regression', column: 'delay' },
    });
    const regression = await fitFeatures(spec, partitions.slice(0, 1));
    const { batch } = await readFeatures({ partitions: partitions.slice(0, 1), fitted: regression });
    expect(batch.featureCount).toBe(6);
    const routes = new Set<number>();
    for (let row = 0; row < batch.rowCount; row++) {
      const route = batch.features[row * 6] as number;
      expect(Number.isInteger(route) && route >= 1 && route <= 16).toBe(true);
      routes.add(route);
      expect(batch.features[row * 6 + 1]).toBeGreaterThanOrEqual(100);
      expect(batch.features[row * 6 + 1]).toBeLessThanOrEqual(2000);
    }
    expect(routes.size).toBe(16);
    const ids = batch.ids as BigInt64Array;
    for (const row of [0, 7, batch.rowCount - 1]) {
      const turn = (2 * Math.PI * (Number(ids[row]) % 10)) / 10;
      expect(batch.features[row * 6 + 2]).toBeCloseTo(Math.sin(turn), 5);
      expect(batch.features[row * 6 + 3]).toBeCloseTo(Math.cos(turn), 5);
      // January: the start of the year's cycle.
      expect([batch.features[row * 6 + 4], batch.features[row * 6 + 5]]).toEqual([0, 1]);
    }
    const [[delaySum]] = (await query(
      `SELECT sum(delay) FROM ${parquetOf(partitions[0]?.files[0] as string)}`,
    )) as [[bigint]];
    expect(batch.labels?.reduce((a, b) => a + b, 0)).toBe(Number(delaySum));
  });

  it("places every time unit where DuckDB's calendar functions do, before 1970, on leap days and far ahead", async () => {
    const datasetDir = path.join(dir, 'times');
    // One row every 997 days and 7,919 seconds from 1500 to 2800: every weekday, day of year and month.
    await writeTestPartition(
      datasetDir,
      '2001-01-01',
      `SELECT i::BIGINT AS id, TIMESTAMP '1500-01-01' + INTERVAL (i * 997) DAY + INTERVAL (i * 7919 % 86400) SECOND AS t
       FROM range(480) r(i)
       UNION ALL SELECT 1000 + i, ts FROM (VALUES (0, TIMESTAMP '1969-12-31 23:59:59'), (1, TIMESTAMP '2000-02-29 12:00:00'),
         (2, TIMESTAMP '1900-03-01'), (3, TIMESTAMP '2400-12-31 23:00:00'), (4, TIMESTAMP '1600-02-29')) v(i, ts)`,
    );
    const units = ['hourOfDay', 'dayOfWeek', 'dayOfYear', 'monthOfYear'] as const;
    const spec = defineFeatures({
      name: 'times',
      version: 1,
      id: 'id',
      features: Object.fromEntries(units.map((unit) => [unit, { kind: 'cyclic', column: 't', unit }])),
    });
    const partitions = await listPartitions(datasetDir);
    const { batch } = await readFeatures({ partitions, fitted: await fitFeatures(spec, partitions) });
    const expected = (await query(
      `SELECT (hour(t) * 3600 + minute(t) * 60 + second(t))::INTEGER, (isodow(t) - 1)::INTEGER,
         (dayofyear(t) - 1)::INTEGER, (month(t) - 1)::INTEGER
       FROM ${parquetOf(partitions[0]?.files[0] as string)}`,
    )) as number[][];
    const turns = [86_400, 7, 365.25, 12];
    expect(batch.rowCount).toBe(485);
    for (let row = 0; row < batch.rowCount; row++) {
      units.forEach((_, unit) => {
        const angle = (2 * Math.PI * (expected[row]?.[unit] as number)) / (turns[unit] as number);
        const at = row * 8 + unit * 2;
        expect([batch.features[at], batch.features[at + 1]]).toEqual([
          Math.fround(Math.sin(angle)),
          Math.fround(Math.cos(angle)),
        ]);
      });
    }
  });

  it('transforms numbers in JS as the fitted SQL does, with no DuckDB-computed slot and a string label', async () => {
    const datasetDir = path.join(dir, 'numbers');
    // Fractional, negative and huge values; a string label. Every slot is written in JS: the
    // query's vector is a placeholder.
    await writeTestPartition(
      datasetDir,
      '2001-01-01',
      `SELECT i::BIGINT AS id, (i * 37.25 - 900)::DOUBLE AS x, (i::DOUBLE * 1e9) AS big,
         (i * 7 % 450)::INTEGER AS n, (i * 0.37)::DOUBLE AS f,
         CASE WHEN i % 3 = 0 THEN 'late' ELSE 'on time' END AS status
       FROM range(500) r(i)`,
    );
    const spec = defineFeatures({
      name: 'numbers',
      version: 1,
      id: 'id',
      features: {
        x: { kind: 'numeric', column: 'x', clip: { min: -0.5, max: 12_000 }, log1p: true, standardize: true },
        raw: { kind: 'numeric', column: 'x' },
        big: { kind: 'numeric', column: 'big', standardize: true },
        // Short integer clip ranges go through a table of results: integers and fractions.
        n: { kind: 'numeric', column: 'n', clip: { min: 10, max: 400 }, log1p: true, standardize: true },
        f: { kind: 'numeric', column: 'f', clip: { min: 10, max: 150 }, log1p: true, standardize: true },
      },
      label: { kind: 'binary', column: 'status', positiveWhen: { op: '=', value: 'late' } },
    });
    const partitions = await listPartitions(datasetDir);
    const numbers = await fitFeatures(spec, partitions);
    const { batch } = await readFeatures({ partitions, fitted: numbers });
    const [x, , big, n, f] = numbers.features;
    if (x?.kind !== 'numeric' || big?.kind !== 'numeric' || n?.kind !== 'numeric' || f?.kind !== 'numeric')
      throw new Error('spec');
    // The transform as one SQL expression, in doubles, the way it was fitted.
    const expected = (await query(
      `SELECT (ln(1 + least(greatest(x, -0.5), 12000)) - ${x.mean}) / ${x.std}, x, (big - ${big.mean}) / ${big.std},
         (ln(1 + least(greatest(n, 10), 400)) - ${n.mean}) / ${n.std}, (ln(1 + least(greatest(f, 10), 150)) - ${f.mean}) / ${f.std},
         status = 'late'
       FROM ${parquetOf(partitions[0]?.files[0] as string)} ORDER BY id`,
    )) as unknown[][];
    expect(batch.rowCount).toBe(500);
    for (let row = 0; row < 500; row++) {
      const values = expected[row] as unknown[];
      const late = values.pop();
      expect([...batch.features.subarray(row * 5, row * 5 + 5)]).toEqual(
        values.map((value) => Math.fround(Number(value))),
      );
      expect(batch.labels?.[row]).toBe(late ? 1 : 0);
    }
  });

  it('compares a float label column in DOUBLE, as the fit does, and an integer one as stored', async () => {
    const datasetDir = path.join(dir, 'labels');
    // 2^24 as a FLOAT, against 2^24 + 1: a FLOAT comparison would round the threshold down.
    await writeTestPartition(
      datasetDir,
      '2001-01-01',
      `SELECT i::BIGINT AS id, 16777216::FLOAT AS f, (16777216 + i)::BIGINT AS n, i::DOUBLE AS x FROM range(3) r(i)`,
    );
    const partitions = await listPartitions(datasetDir);
    const labels = async (column: string) => {
      const spec = defineFeatures({
        name: 'labels',
        version: 1,
        id: 'id',
        features: { x: { kind: 'numeric', column: 'x' } },
        label: { kind: 'binary', column, positiveWhen: { op: '>=', value: 16_777_217 } },
      });
      const { batch } = await readFeatures({ partitions, fitted: await fitFeatures(spec, partitions) });
      return [...(batch.labels ?? [])];
    };
    expect(await labels('f')).toEqual([0, 0, 0]);
    expect(await labels('n')).toEqual([0, 1, 1]);
  });

  it('looks up long vocabularies and slice lists the same way as short ones', async () => {
    const datasetDir = path.join(dir, 'codes');
    // 300 codes: past the length where list scans give way to ENUM lookups.
    await writeTestPartition(
      datasetDir,
      '2001-01-01',
      `SELECT i::BIGINT AS id, 'c' || (i % 300) AS code, (i % 7)::DOUBLE AS x FROM range(3000) t(i)`,
    );
    const spec = defineFeatures({
      name: 'codes',
      version: 1,
      id: 'id',
      features: {
        x: { kind: 'numeric', column: 'x' },
        code: { kind: 'categorical', column: 'code', encoding: { type: 'vocabulary', topN: 290 } },
      },
      slices: ['code'],
    });
    const partitions = await listPartitions(datasetDir);
    const codes = await fitFeatures(spec, partitions);
    const vocabulary =
      codes.features[1]?.kind === 'categorical' && codes.features[1].encoding === 'vocabulary'
        ? codes.features[1].vocabulary
        : [];
    expect(vocabulary).toHaveLength(290);
    const { batch } = await readFeatures({ partitions, fitted: codes });
    const slice = batch.slices[0];
    expect(slice?.values).toHaveLength(300);
    for (let row = 0; row < batch.rowCount; row++) {
      const code = `c${row % 300}`;
      expect(batch.features[row * 2 + 1]).toBe(vocabulary.indexOf(code) + 1);
      expect(slice?.values[slice.codes[row] as number]).toBe(code);
    }
  });

  it('reads typed columns through the C API, and refuses a column of another type by name', async () => {
    const rows = await withDuckSession(async (connection) => {
      const result = await connection.stream(
        'SELECT (i + 0.5)::FLOAT AS v, i::BIGINT AS id, i / 4 AS d FROM range(5000) r(i)',
      );
      const columns = new TypedColumns(result, ['float', 'bigint', 'double']);
      const read: number[] = [];
      for await (const chunk of prefetchedChunks(result)) {
        const [floats, ids, doubles] = [
          columns.floats(chunk, 0),
          columns.bigints(chunk, 1),
          columns.doubles(chunk, 2),
        ];
        for (let row = 0; row < chunk.rowCount; row++) {
          expect([floats[row], doubles[row]]).toEqual([Number(ids[row]) + 0.5, Number(ids[row]) / 4]);
          read.push(Number(ids[row]));
        }
      }
      const wrong = await connection.stream('SELECT 1::INTEGER AS a, 2::DOUBLE AS b');
      expect(() => new TypedColumns(wrong, [null, 'bigint'])).toThrow(
        'result column 1: expected BIGINT, got DOUBLE',
      );
      expect(() => new TypedColumns(wrong, ['float'])).toThrow(
        'result column 0: expected FLOAT, got INTEGER',
      );
      return read;
    });
    expect(rows).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it('refuses a malformed spec where it is declared', () => {
    expect(() =>
      defineFeatures({
        name: 'x',
        version: 1,
        id: 'id',
        features: { a: { kind: 'numeric', column: 'a', clip: { min: 2, max: 1 } } },
      }),
    ).toThrow(ConfigError);
    expect(() =>
      defineFeatures({
        name: 'x',
        version: 1,
        id: 'id',
        features: { a: { kind: 'categorical', column: 'a', encoding: { type: 'vocabulary', topN: 0 } } },
      }),
    ).toThrow("feature spec 'x', feature 'a': expected topN >= 1, got 0");
  });

  it('saves fitted features as readable JSON', async () => {
    const file = path.join(dir, 'fitted.json');
    await saveFittedFeatures(file, fitted);
    expect(JSON.parse(await readFile(file, 'utf8')).slots).toHaveLength(9);
  });
});

/** Byte-for-byte equality; vitest's toEqual walks typed arrays element by element (seconds for 300k). */
function sameBytes(a: ArrayBufferView | undefined, b: ArrayBufferView | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

function expectSameBatch(actual: FeatureBatch, expected: FeatureBatch): void {
  expect(actual.rowCount).toBe(expected.rowCount);
  expect(sameBytes(actual.features, expected.features)).toBe(true);
  expect(sameBytes(actual.ids as BigInt64Array, expected.ids as BigInt64Array)).toBe(true);
  expect(sameBytes(actual.labels, expected.labels)).toBe(true);
  expect(actual.slices.map((slice) => slice.values)).toEqual(expected.slices.map((slice) => slice.values));
  expect(sameBytes(actual.slices[0]?.codes, expected.slices[0]?.codes)).toBe(true);
}

describe('batch arrays', () => {
  it("maps a batch's pages ahead of its writer and never touches a written row", async () => {
    // 3 floats a row, an id, a label and a slice code: 300,000 rows are 6 MB of pages to fault.
    const plan = {
      segments: [],
      materialize: false,
      featureCount: 3,
      layout: vectorLayout([], () => ''),
      withLabels: true,
      idIsInteger: true,
      sliceValues: new Map([['origin', ['A']]]),
    };
    const rows = 300_000;
    const builder = new BatchBuilder(plan, rows);
    // Rows past the writer hold 3 (fresh arrays hold 0): each page the prefault maps gets a 0.
    builder.features.fill(3);
    const written = 123_457;
    builder.features.fill(7, 0, written * 3);
    (builder.ids as BigInt64Array).fill(5n, 0, written);
    builder.labels?.fill(1, 0, written);
    builder.sliceCodes[0]?.fill(9, 0, written);
    builder.rowCount = written;
    await builder.prefault();
    const count = (array: ArrayLike<unknown>, value: unknown) =>
      Array.prototype.filter.call(array, (item) => item === value).length;
    expect(count(builder.features, 7)).toBe(written * 3);
    expect(count(builder.ids as BigInt64Array, 5n)).toBe(written);
    expect(count(builder.labels ?? [], 1)).toBe(written);
    expect(count(builder.sliceCodes[0] ?? [], 9)).toBe(written);
    const pages = Math.floor(((rows - written) * 3 * 4) / 4096);
    expect(count(builder.features, 0)).toBeGreaterThanOrEqual(pages);
    expect(count(builder.features, 0)).toBeLessThanOrEqual(pages + 1);
    expect(count(builder.features, 0) + count(builder.features, 3)).toBe((rows - written) * 3);
  });
});

describe('segments of a read', () => {
  const rows = new Map([
    ['a', 100],
    ['b', 100],
    ['c', 250],
    ['d', 30],
    ['e', 0],
  ]);

  it('groups small files and cuts a big one into row ranges, keeping every row once and in order', () => {
    const segments = segmentSource({ files: ['a', 'b', 'c', 'd', 'e'] }, rows, 120);
    expect(segments.map((segment) => segment.files)).toEqual([['a'], ['b'], ['c'], ['c'], ['c', 'd', 'e']]);
    expect(segments.map((segment) => segment.ranges && Object.fromEntries(segment.ranges))).toEqual([
      undefined,
      undefined,
      { c: { from: 0, to: 120 } },
      { c: { from: 120, to: 240 } },
      { c: { from: 240, to: 250 } },
    ]);
    const grouped = segmentSource({ files: ['a', 'b', 'c', 'd', 'e'] }, rows, 1000);
    expect(grouped).toEqual([{ files: ['a', 'b', 'c', 'd', 'e'], ranges: undefined }]);
  });

  it("cuts inside a file's own range and keeps the other files' ranges", () => {
    const ranges = new Map([
      ['c', { from: 50, to: 200 }],
      ['d', { from: 10, to: 20 }],
    ]);
    const segments = segmentSource({ files: ['c', 'd'], ranges }, rows, 100);
    expect(segments.map((segment) => [segment.files, Object.fromEntries(segment.ranges ?? [])])).toEqual([
      [['c'], { c: { from: 50, to: 150 } }],
      [['c', 'd'], { c: { from: 150, to: 200 }, d: { from: 10, to: 20 } }],
    ]);
    expect(() => segmentSource({ files: ['a'] }, rows, 0)).toThrow(
      'segment rows: expected a positive integer, got 0',
    );
  });
});
