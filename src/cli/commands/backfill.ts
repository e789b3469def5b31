import type { Command } from 'commander';
import { findDag } from '../../dag/index.ts';
import { UsageError } from '../../errors.ts';
import {
  backfillDates,
  describeBackfillDate,
  REPROCESS_MODES,
  type ReprocessMode,
  runBackfill,
} from '../../scheduler/backfill.ts';
import { configFrom, EXIT_FAILED, interruptSignal, parsePositiveInteger, withStore } from '../context.ts';
import { formatTable, printJson, truncate } from '../format.ts';

interface BackfillCommandOptions {
  from: string;
  to: string;
  reprocess: string;
  maxActive?: number;
  concurrency?: number;
  dryRun?: boolean;
  json?: boolean;
}

function parseReprocess(value: string): ReprocessMode {
  if (!(REPROCESS_MODES as readonly string[]).includes(value)) {
    throw new UsageError(`invalid --reprocess '${value}': expected one of ${REPROCESS_MODES.join(', ')}`);
  }
  return value as ReprocessMode;
}

export function registerBackfillCommand(program: Command): void {
  program
    .command('backfill')
    .description("create and execute a DAG's runs for every logical date of its schedule in [--from, --to]")
    .argument('<dag>', 'DAG id')
    .requiredOption('--from <YYYY-MM-DD>', 'first calendar date (inclusive, in the DAG time zone)')
    .requiredOption('--to <YYYY-MM-DD>', 'last calendar date (inclusive)')
    .option(
      '--reprocess <mode>',
      'existing runs: none (skip them), failed (rerun their failed tasks), completed (rerun finished runs entirely)',
      'none',
    )
    .option(
      '--max-active <n>',
      "runs at once (default: the DAG's maxActiveRuns)",
      parsePositiveInteger('--max-active'),
    )
    .option('--concurrency <n>', 'task attempts at once per run', parsePositiveInteger('--concurrency'))
    .option('--dry-run', 'print the logical dates and their data intervals; create nothing')
    .option('--json', 'print JSON')
    .action(async (dagId: string, options: BackfillCommandOptions, command: Command) => {
      const config = configFrom(command);
      const reprocess = parseReprocess(options.reprocess);
      const dag = await findDag(config.dagsDir, dagId);
      if (!dag)
        throw new UsageError(`unknown DAG '${dagId}': no ${dagId}.ts in ${config.dagsDir} (see 'dags list')`);
      const intervals = backfillDates(dag, options.from, options.to);
      if (options.dryRun) {
        const dates = intervals.map((interval) => describeBackfillDate(dag, interval));
        if (options.json) return printJson(dates);
        for (const date of dates) {
          process.stdout.write(
            `${date.logicalDate}  [${date.dataInterval.start} .. ${date.dataInterval.end})\n`,
          );
        }
        return;
      }
      const interrupt = interruptSignal('running tasks are handed back, no new run starts');
      try {
        await withStore(config, async (store) => {
          const outcomes = await runBackfill({
            store,
            config,
            dag,
            from: options.from,
            to: options.to,
            reprocess,
            maxActive: options.maxActive,
            concurrency: options.concurrency,
            signal: interrupt.signal,
            onOutcome: options.json
              ? undefined
              : (outcome) =>
                  process.stdout.write(
                    `${outcome.logicalDate}: ${outcome.action}${outcome.reason ? ` (${outcome.reason})` : ''}` +
                      `${outcome.runId === null ? '' : `, run ${outcome.runId}`}, ${outcome.state ?? '-'}\n`,
                  ),
          });
          if (options.json) {
            printJson(outcomes);
          } else {
            process.stdout.write(
              `${formatTable(
                ['LOGICAL DATE', 'RUN', 'ACTION', 'STATE', 'NOTE'],
                outcomes.map((outcome) => [
                  outcome.logicalDate,
                  outcome.runId === null ? '-' : String(outcome.runId),
                  outcome.action,
                  outcome.state ?? '-',
                  truncate(outcome.error ?? outcome.reason ?? '', 60),
                ]),
              )}\n`,
            );
          }
          const ran = outcomes.filter((outcome) => outcome.action !== 'skipped');
          if (ran.some((outcome) => outcome.state !== 'success') || outcomes.length < intervals.length) {
            process.exitCode = EXIT_FAILED;
          }
        });
      } finally {
        interrupt.dispose();
      }
    });
}
