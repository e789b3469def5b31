import type { Command } from 'commander';
import { parseDay, prepareFlights } from '../../data/index.ts';
import { UsageError } from '../../errors.ts';
import { configFrom } from '../context.ts';
import { printJson } from '../format.ts';
import { registerDataImportCommands } from './dataImport.ts';

/**
 * `data prepare flights [--from D] [--to D]`: the sample dataset as daily partitions;
 * `data import` and `data list` (dataImport.ts): a user's own data.
 */
export function registerDataCommands(program: Command): void {
  const data = program
    .command('data')
    .description('datasets: daily Parquet partitions under the data folder');
  const prepare = data.command('prepare').description('write a sample dataset as daily partitions');
  prepare
    .command('flights')
    .description(
      '3M US flights (Jan-Jun 2001, from vega-datasets) as data/flights/date=YYYY-MM-DD/, with a stable flight_id',
    )
    .option('--from <date>', 'first day, YYYY-MM-DD (default: the first day of the source)')
    .option('--to <date>', 'last day included, YYYY-MM-DD (default: the last day of the source)')
    .option('--json', 'print the result as JSON')
    .action(async (options: { from?: string; to?: string; json?: boolean }, command: Command) => {
      const from = options.from === undefined ? undefined : parseDay(options.from, '--from');
      const to = options.to === undefined ? undefined : parseDay(options.to, '--to');
      const config = configFrom(command);
      const result = await prepareFlights({ dataDir: config.dataDir, from, to });
      if (result.partitions.length === 0) {
        throw new UsageError(
          `no flights between ${from ?? 'the start'} and ${to ?? 'the end'}: the source covers 2001-01-01 to 2001-07-01`,
        );
      }
      if (options.json) {
        printJson(result);
        return;
      }
      const first = result.partitions[0]?.date;
      const last = result.partitions[result.partitions.length - 1]?.date;
      process.stdout.write(
        `flights ${first}..${last}: ${result.written} partitions written, ${result.unchanged} unchanged, ` +
          `${result.rows.toLocaleString('en-US')} rows in ${result.datasetDir}\n`,
      );
    });
  // Nested commands throw instead of exiting, like the rest of the CLI (main turns errors into exit codes).
  const own = registerDataImportCommands(data);
  for (const command of [data, prepare, ...prepare.commands, ...own]) command.exitOverride();
}
