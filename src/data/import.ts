import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readdir, rm, rmdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DataError, UsageError } from '../errors.ts';
import { childLogger } from '../log.ts';
import {
  columnDifferences,
  contractFile,
  type DatasetContract,
  readContract,
  validateContract,
  writeContract,
} from './datasetContract.ts';
import type { Day } from './dates.ts';
import { openDuckSession, sqlIdentifier, sqlString, withDuckSession } from './duckdb.ts';
import { type ErrorSink, writeErrorFile } from './errorSink.ts';
import { DEFAULT_MAX_ERROR_RATE } from './features/validate.ts';
import { errorSelect, fingerprintDays } from './importScan.ts';
import {
  dayExpressions,
  describeSource,
  type ImportFormat,
  resolveImportFiles,
  sourceRelation,
} from './importSource.ts';
import { moveStagedFiles, stagedSchema, writeStagedDays } from './importStaging.ts';
import type { ColumnSchema } from './manifest.ts';
import {
  isPartitionCurrent,
  PARTITION_ROW_GROUP_ROWS,
  type PartitionWriteStatus,
  partitionDir,
  writePartition,
} from './partitions.ts';

/** Bump when what an import writes changes, so that existing days are rewritten, not kept. */
const IMPORT_LAYOUT_VERSION = 1;

export interface ImportOptions {
  /** Root of the datasets: days go to `<dataDir>/<dataset>/date=D/`. */
  dataDir: string;
  dataset: string;
  /** Files, folders (every file of the format under them) and globs. */
  inputs: readonly string[];
  /** Default: from the files' extensions. */
  format?: ImportFormat;
  /** The event-time column whose day partitions the rows; optional with `date`. */
  dateColumn?: string;
  /** The input is this one day (rows of another day, with `dateColumn`, are errors). */
  date?: Day;
  /** Only the days from `from` to `to` (included) are imported; other rows are left out. */
  from?: Day;
  to?: Day;
  /** IANA zone whose days partition instants (TIMESTAMPTZ, strings with an offset); default UTC. */
  timezone?: string;
  /** strptime format for a VARCHAR or integer date column, e.g. `%Y%m%d` or `%d/%m/%Y %H:%M`. */
  dateFormat?: string;
  /** Recorded in the dataset contract: the column that identifies an event. */
  idColumn?: string;
  /** Fraction of rows without a day above which the import fails and writes nothing; default 0.01. */
  maxErrorRate?: number;
  /** Where rows without a day go, under the day of `date` or else of the import (UTC). */
  errorSink?: ErrorSink;
}

export interface ImportedDay {
  date: Day;
  status: PartitionWriteStatus;
  rows: number;
}

export interface ImportResult {
  dataset: string;
  datasetDir: string;
  format: ImportFormat;
  files: string[];
  /** Rows read, good and bad, outside --from/--to included. */
  rowsRead: number;
  /** Rows written or kept in the days of this import. */
  rows: number;
  errorRows: number;
  errorFile: string | undefined;
  days: ImportedDay[];
  written: number;
  unchanged: number;
  contract: DatasetContract;
}

const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Imports Parquet, CSV or NDJSON files as daily partitions of a dataset. One scan counts and
 * fingerprints each day's rows (an order-independent sum of row hashes); days whose partition
 * already holds those rows are left as they are; the others are written by one
 * `COPY ... PARTITION_BY` into a staging folder, then each day is moved into place through
 * `writePartition` (atomic, with a manifest). Rows without a day go to the error sink; above
 * `maxErrorRate` of them the import fails and writes no partition.
 */
export async function importDataset(options: ImportOptions): Promise<ImportResult> {
  checkOptions(options);
  const datasetDir = path.join(options.dataDir, options.dataset);
  const log = childLogger({ component: 'data', dataset: options.dataset });
  return withDuckSession(async (connection) => {
    const { files, format } = await resolveImportFiles(connection, options.inputs, options.format);
    const relation = sourceRelation(files, format);
    const schema = await describeSource(connection, relation, files);
    const { day, reason } = dayExpressions(schema, options);
    const contract = await contractFor(datasetDir, options, schema);
    const dataColumns = schema.map((column) => sqlIdentifier(column.name));
    const rows = `(SELECT *, ${day} AS __day, ${reason} AS __reason FROM ${relation})`;
    const inRange = rangeCondition(options);
    const days: ImportedDay[] = [];
    let errors = { errorRows: 0, errorFile: undefined as string | undefined, read: 0 };

    const timings = { fingerprintMs: 0, copyMs: 0, daysMs: 0 };
    const stagingDir = path.join(datasetDir, `.import-${process.pid}-${randomBytes(4).toString('hex')}`);
    const copySql = (only: string) =>
      `COPY (SELECT ${dataColumns.join(', ')}, strftime(__day, '%Y-%m-%d') AS __day FROM ${rows}
         WHERE __reason IS NULL AND ${inRange} AND ${only})
       TO ${sqlString(stagingDir)} (FORMAT parquet, PARTITION_BY (__day), ROW_GROUP_SIZE ${PARTITION_ROW_GROUP_ROWS})`;
    // A dataset without days yet has every day to write: its COPY (to the staging folder only,
    // removed if the import fails) runs beside the fingerprint scan, on a second connection of
    // the same engine, filling the cores the other leaves idle. bench/data-import.ts on 3M
    // flights (2 shared cores, load 12-15): wall ratio to DuckDB's own COPY 0.34-0.50 with the
    // two in turn, 0.56-0.99 side by side; the CPU time is the same either way.
    const fresh = !(await hasDays(datasetDir));
    const copySession = fresh ? await openDuckSession() : undefined;
    let started = performance.now();
    let succeeded = false;
    let earlyCopy: Promise<unknown> | undefined;
    try {
      if (copySession !== undefined) {
        await mkdir(datasetDir, { recursive: true });
        earlyCopy = copySession.connection.run(copySql('true')).then(() => {
          timings.copyMs = Math.round(performance.now() - started);
        });
        earlyCopy.catch(() => undefined);
      }
      const fingerprint = await fingerprintDays(connection, rows, schema, inRange, files);
      timings.fingerprintMs = Math.round(performance.now() - started);
      const errorRows = fingerprint.errors;
      const considered = fingerprint.total;
      const maxErrorRate = options.maxErrorRate ?? DEFAULT_MAX_ERROR_RATE;
      const errorFile =
        options.errorSink === undefined
          ? undefined
          : await writeErrorFile(
              connection,
              options.errorSink,
              options.date ?? new Date().toISOString().slice(0, 10),
              errorSelect(rows, schema, format),
              errorRows,
            );
      if (considered > 0 && errorRows / considered > maxErrorRate) {
        throw new DataError(
          `${options.dataset}: ${errorRows} of ${considered} rows (${((100 * errorRows) / considered).toFixed(2)}%) ` +
            `have no valid day in ${options.dateColumn ?? '--date'}, more than maxErrorRate ${(100 * maxErrorRate).toFixed(2)}%; ` +
            `nothing written; ${errorFile ? `see ${errorFile}` : 'no error sink was given'}`,
        );
      }

      const duckdb = duckdbVersion();
      const inputsOf = (date: Day) => ({
        importer: IMPORT_LAYOUT_VERSION,
        duckdb,
        columns: schema.map((column) => `${column.name} ${column.type}`).join(', '),
        rows: fingerprint.days.get(date)?.rows ?? 0,
        rowsHash: fingerprint.days.get(date)?.hash ?? '',
      });
      const stale: Day[] = [];
      for (const [date, { rows: count }] of fingerprint.days) {
        if (!fresh && (await isPartitionCurrent(partitionDir(datasetDir, date), inputsOf(date)))) {
          days.push({ date, status: 'unchanged', rows: count });
        } else stale.push(date);
      }
      await mkdir(datasetDir, { recursive: true });
      if (stale.length > 0) {
        if (earlyCopy !== undefined) await earlyCopy;
        else {
          started = performance.now();
          const allDays = stale.length === fingerprint.days.size;
          await connection.run(
            copySql(allDays ? 'true' : `strftime(__day, '%Y-%m-%d') IN (${stale.map(sqlString).join(', ')})`),
          );
          timings.copyMs = Math.round(performance.now() - started);
        }
        const writtenSchema = await stagedSchema(connection, stagingDir, stale[0] as Day, schema);
        started = performance.now();
        days.push(
          ...(await writeStagedDays(stale, async (connection2, date) => {
            let fileCount = 0;
            const result = await writePartition(connection2, {
              datasetDir,
              dataset: options.dataset,
              date,
              inputs: inputsOf(date),
              writeFiles: async (tempDir) => {
                fileCount = await moveStagedFiles(path.join(stagingDir, `__day=${date}`), tempDir);
              },
              // A day in one file: the statistics of the scan above are that file's.
              knownFile: () => {
                const known = fingerprint.days.get(date);
                if (fileCount !== 1 || writtenSchema === undefined || known === undefined) return undefined;
                return { rows: known.rows, schema: writtenSchema, stats: known.stats };
              },
            });
            log.debug({ date, status: result.status, rows: result.manifest.rowCount }, 'day imported');
            return { date, status: result.status, rows: result.manifest.rowCount };
          })),
        );
        timings.daysMs = Math.round(performance.now() - started);
      }
      errors = { errorRows, errorFile, read: fingerprint.read };
      succeeded = true;
    } finally {
      // The COPY must end before its staging folder goes (and before its connection closes).
      await earlyCopy?.catch(() => undefined);
      copySession?.close();
      await rm(stagingDir, { recursive: true, force: true });
      // A failed first import leaves no empty dataset folder behind.
      if (fresh && !succeeded) await rmdir(datasetDir).catch(() => undefined);
    }
    await writeContract(datasetDir, contract);
    days.sort((a, b) => (a.date < b.date ? -1 : 1));
    const result: ImportResult = {
      dataset: options.dataset,
      datasetDir,
      format,
      files,
      rowsRead: errors.read,
      rows: days.reduce((sum, d) => sum + d.rows, 0),
      errorRows: errors.errorRows,
      errorFile: errors.errorFile,
      days,
      written: days.filter((d) => d.status === 'written').length,
      unchanged: days.filter((d) => d.status === 'unchanged').length,
      contract,
    };
    log.info(
      {
        files: files.length,
        written: result.written,
        unchanged: result.unchanged,
        rows: result.rows,
        errorRows: result.errorRows,
        ...timings,
      },
      'dataset imported',
    );
    return result;
  });
}

async function hasDays(datasetDir: string): Promise<boolean> {
  const entries = await readdir(datasetDir).catch(() => [] as string[]);
  return entries.some((entry) => entry.startsWith('date='));
}

function checkOptions(options: ImportOptions): void {
  if (!DATASET_NAME.test(options.dataset)) {
    throw new UsageError(
      `dataset '${options.dataset}': expected a name of letters, digits, '.', '_' or '-' (not starting with '.', '_' or '-')`,
    );
  }
  if (options.from !== undefined && options.to !== undefined && options.from > options.to) {
    throw new UsageError(`--from ${options.from} is after --to ${options.to}`);
  }
  const rate = options.maxErrorRate;
  if (rate !== undefined && !(rate >= 0 && rate <= 1)) {
    throw new UsageError(`--max-error-rate: expected a fraction from 0 to 1, got ${rate}`);
  }
  if (options.timezone !== undefined && !isTimeZone(options.timezone)) {
    throw new UsageError(
      `--timezone '${options.timezone}': expected an IANA time zone such as Europe/Paris or UTC`,
    );
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The contract of the data read: the recorded one when the columns agree with it (the id and
 * event-time columns may be given again, not changed), else a new one from the data.
 */
async function contractFor(
  datasetDir: string,
  options: ImportOptions,
  schema: ColumnSchema[],
): Promise<DatasetContract> {
  const recorded = await readContract(datasetDir);
  const where = contractFile(datasetDir);
  if (options.idColumn !== undefined && !schema.some((column) => column.name === options.idColumn)) {
    throw new UsageError(
      `--id-column '${options.idColumn}': no such column; found ${schema.map((c) => c.name).join(', ')}`,
    );
  }
  if (recorded === undefined) {
    return validateContract(
      {
        format: 1,
        dataset: options.dataset,
        columns: schema,
        ...(options.idColumn === undefined ? {} : { idColumn: options.idColumn }),
        ...(options.dateColumn === undefined ? {} : { eventTimeColumn: options.dateColumn }),
        ...(options.timezone === undefined ? {} : { timezone: options.timezone }),
      },
      `--id-column/--date-column for ${options.dataset}`,
    );
  }
  const differences = columnDifferences(recorded.columns, schema);
  if (differences.length > 0) {
    throw new DataError(
      `${options.dataset}: the files' columns differ from the dataset's contract ${where}: ${differences.join('; ')}`,
    );
  }
  for (const [flag, given, kept] of [
    ['--id-column', options.idColumn, recorded.idColumn],
    ['--date-column', options.dateColumn, recorded.eventTimeColumn],
    ['--timezone', options.timezone, recorded.timezone],
  ] as const) {
    if (given !== undefined && given !== kept) {
      throw new DataError(
        `${options.dataset}: ${flag} '${given}' differs from the contract's '${kept ?? 'none'}' in ${where}; a dataset's contract is declared once`,
      );
    }
  }
  return recorded;
}

function rangeCondition(options: ImportOptions): string {
  const conditions = ['true'];
  if (options.from !== undefined) conditions.push(`__day >= DATE ${sqlString(options.from)}`);
  if (options.to !== undefined) conditions.push(`__day <= DATE ${sqlString(options.to)}`);
  return conditions.join(' AND ');
}

let cachedDuckdbVersion: string | undefined;

/** Parquet bytes and `hash()` values may change between DuckDB versions: part of a day's inputs. */
function duckdbVersion(): string {
  if (cachedDuckdbVersion === undefined) {
    const entry = createRequire(import.meta.url).resolve('@duckdb/node-api');
    const packageJson = path.join(path.dirname(entry), '..', 'package.json');
    cachedDuckdbVersion =
      (JSON.parse(readFileSync(packageJson, 'utf8')) as { version?: string }).version ?? 'unknown';
  }
  return cachedDuckdbVersion;
}
