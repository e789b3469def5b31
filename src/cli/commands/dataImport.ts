import type { Command } from 'commander';
import {
  describeDataset,
  errorSinkFor,
  IMPORT_FORMATS,
  type ImportFormat,
  importDataset,
  listDatasets,
  parseDay,
} from '../../data/index.ts';
import { UsageError } from '../../errors.ts';
import { configFrom } from '../context.ts';
import { formatTable, printJson } from '../format.ts';

interface ImportFlags {
  dateColumn?: string;
  date?: string;
  format?: string;
  from?: string;
  to?: string;
  timezone?: string;
  dateFormat?: string;
  idColumn?: string;
  maxErrorRate?: string;
  json?: boolean;
}

/** `data import <dataset> <inputs...>` and `data list [<dataset>]`. */
export function registerDataImportCommands(data: Command): Command[] {
  const importCommand = data
    .command('import <dataset> <inputs...>')
    .description(
      'import Parquet, CSV or NDJSON files (files, folders, globs) as daily partitions data/<dataset>/date=YYYY-MM-DD/',
    )
    .option(
      '--date-column <col>',
      "the event-time column whose day partitions the rows (the contract's event time)",
    )
    .option(
      '--date <date>',
      'the input is this one day, YYYY-MM-DD (with --date-column, rows of other days are errors)',
    )
    .option('--format <format>', `${IMPORT_FORMATS.join('|')} (default: from the file extensions)`)
    .option('--from <date>', 'import only the days from this one, YYYY-MM-DD')
    .option('--to <date>', 'import only the days up to this one included, YYYY-MM-DD')
    .option(
      '--timezone <zone>',
      'IANA zone whose days partition instants (TIMESTAMPTZ, strings with an offset); default UTC',
    )
    .option('--date-format <format>', 'strptime format of a VARCHAR or integer date column, e.g. %Y%m%d')
    .option('--id-column <col>', "the column identifying an event, recorded in the dataset's contract")
    .option(
      '--max-error-rate <fraction>',
      'rows without a valid day, above which nothing is written (default 0.01)',
    )
    .option('--json', 'print the result as JSON')
    .action(async (dataset: string, inputs: string[], flags: ImportFlags, command: Command) => {
      const config = configFrom(command);
      if (flags.dateColumn === undefined && flags.date === undefined)
        throw new UsageError('expected --date-column <col>, or --date D for a one-day file');
      if (flags.format !== undefined && !IMPORT_FORMATS.includes(flags.format as ImportFormat))
        throw new UsageError(`--format: expected ${IMPORT_FORMATS.join(', ')}, got '${flags.format}'`);
      const maxErrorRate = flags.maxErrorRate === undefined ? undefined : fraction(flags.maxErrorRate);
      const result = await importDataset({
        dataDir: config.dataDir,
        dataset,
        inputs,
        ...(flags.format === undefined ? {} : { format: flags.format as ImportFormat }),
        ...(flags.dateColumn === undefined ? {} : { dateColumn: flags.dateColumn }),
        ...(flags.date === undefined ? {} : { date: parseDay(flags.date, '--date') }),
        ...(flags.from === undefined ? {} : { from: parseDay(flags.from, '--from') }),
        ...(flags.to === undefined ? {} : { to: parseDay(flags.to, '--to') }),
        ...(flags.timezone === undefined ? {} : { timezone: flags.timezone }),
        ...(flags.dateFormat === undefined ? {} : { dateFormat: flags.dateFormat }),
        ...(flags.idColumn === undefined ? {} : { idColumn: flags.idColumn }),
        ...(maxErrorRate === undefined ? {} : { maxErrorRate }),
        errorSink: errorSinkFor(config.home, `import-${dataset}`, 'import'),
      });
      if (flags.json) {
        printJson(result);
        return;
      }
      const changed = result.days.filter((day) => day.status === 'written').map((day) => day.date);
      const first = result.days[0]?.date;
      const last = result.days.at(-1)?.date;
      process.stdout.write(
        `${dataset} ${first ?? '-'}..${last ?? '-'}: ${result.written} days written, ${result.unchanged} unchanged, ` +
          `${result.rows.toLocaleString('en-US')} rows from ${result.files.length} ${result.format} file(s) in ${result.datasetDir}\n` +
          (changed.length > 0 && result.unchanged > 0 ? `written: ${changed.join(', ')}\n` : '') +
          (result.errorRows > 0
            ? `${result.errorRows.toLocaleString('en-US')} rows without a valid day, see ${result.errorFile}\n`
            : ''),
      );
    });

  const listCommand = data
    .command('list [dataset]')
    .description('datasets with their days, rows, bytes and schema; with a dataset, each day')
    .option('--json', 'print as JSON')
    .action(async (dataset: string | undefined, flags: { json?: boolean }, command: Command) => {
      const config = configFrom(command);
      if (dataset !== undefined) {
        const summary = await describeDataset(config.dataDir, dataset);
        if (summary.days === 0 && summary.contract === undefined)
          throw new UsageError(`dataset '${dataset}': no partitions and no contract in ${summary.dir}`);
        if (flags.json) {
          printJson(summary);
          return;
        }
        const contract = summary.contract;
        process.stdout.write(
          `${dataset}: ${summary.days} days ${summary.first ?? '-'}..${summary.last ?? '-'}, ` +
            `${summary.rows.toLocaleString('en-US')} rows, ${formatBytes(summary.bytes)} in ${summary.dir}\n` +
            `schema: ${summary.schema.map((c) => `${c.name} ${c.type}`).join(', ')}\n` +
            (contract
              ? `contract: id ${contract.idColumn ?? '(none)'}, event time ${contract.eventTimeColumn ?? '(none)'}` +
                `${contract.timezone ? ` (${contract.timezone})` : ''}\n`
              : 'contract: none (data import records one)\n') +
            `${formatTable(
              ['date', 'rows', 'bytes', 'files'],
              summary.partitions.map((day) => [
                day.date,
                day.rows.toLocaleString('en-US'),
                formatBytes(day.bytes),
                String(day.files),
              ]),
            )}\n`,
        );
        return;
      }
      const summaries = await listDatasets(config.dataDir);
      if (flags.json) {
        printJson(summaries.map(({ partitions: _, ...summary }) => summary));
        return;
      }
      if (summaries.length === 0) {
        process.stdout.write(`no datasets in ${config.dataDir}\n`);
        return;
      }
      process.stdout.write(
        `${formatTable(
          ['dataset', 'days', 'first', 'last', 'rows', 'bytes', 'schema'],
          summaries.map((s) => [
            s.dataset,
            String(s.days),
            s.first ?? '-',
            s.last ?? '-',
            s.rows.toLocaleString('en-US'),
            formatBytes(s.bytes),
            s.schema.map((c) => `${c.name} ${c.type}`).join(', '),
          ]),
        )}\n`,
      );
    });
  return [importCommand, listCommand];
}

function fraction(value: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !(parsed >= 0 && parsed <= 1))
    throw new UsageError(`--max-error-rate: expected a fraction from 0 to 1, got '${value}'`);
  return parsed;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
