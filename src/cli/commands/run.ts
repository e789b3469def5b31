import type { Command } from 'commander';
import {
  findDag,
  isIsoDate,
  parseLogicalDate,
  runDag,
  runForDay,
  summarizeRun,
  summarizeTasks,
} from '../../dag/index.ts';
import type { JsonObject } from '../../dag/types.ts';
import { UsageError } from '../../errors.ts';
import { configFrom, EXIT_FAILED, interruptSignal, parsePositiveInteger, withStore } from '../context.ts';
import { formatDuration, formatTable, printJson, truncate } from '../format.ts';

interface RunOptions {
  date: string;
  conf?: string;
  json?: boolean;
  concurrency?: number;
}

export function parseConf(text: string | undefined): JsonObject | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `invalid --conf: ${(error as Error).message}; expected a JSON object such as '{"days": 3}'`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(
      `invalid --conf: expected a JSON object, found ${Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  return value as JsonObject;
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run a DAG for one logical date in the foreground, to the end (resumes an existing run)')
    .argument('<dag>', 'DAG id')
    .requiredOption('--date <YYYY-MM-DD>', 'logical date: the start of the data interval')
    .option('--conf <json>', 'run configuration, a JSON object overriding the DAG params')
    .option(
      '--concurrency <n>',
      'task attempts at once in this process',
      parsePositiveInteger('--concurrency'),
    )
    .option('--json', 'print the run and its tasks as JSON')
    .action(async (dagId: string, options: RunOptions, command: Command) => {
      const config = configFrom(command);
      // Everything the user typed is checked before anything is opened or written.
      if (!isIsoDate(options.date)) parseLogicalDate(options.date, 'UTC');
      const conf = parseConf(options.conf);
      const dag = await findDag(config.dagsDir, dagId);
      if (!dag)
        throw new UsageError(`unknown DAG '${dagId}': no ${dagId}.ts in ${config.dagsDir} (see 'dags list')`);
      const logicalDate = runForDay(dag, options.date).start;

      const interrupt = interruptSignal('running tasks are handed back');
      try {
        await withStore(config, async (store) => {
          const result = await runDag({
            store,
            config,
            dag,
            logicalDate,
            conf,
            concurrency: options.concurrency,
            signal: interrupt.signal,
          });
          const tasks = await summarizeTasks(store, result.run.id);
          const run = summarizeRun(result.run, dag.timezone);
          if (options.json) {
            printJson({ run, tasks });
          } else {
            process.stdout.write(
              `run ${run.id} of ${run.dagId} for ${run.logicalDate}: ${result.state}` +
                `${result.created ? '' : ' (resumed)'} in ${formatDuration(run.durationMs)}\n`,
            );
            process.stdout.write(
              `${formatTable(
                ['TASK', 'STATE', 'ATTEMPTS', 'DURATION', 'ERROR'],
                tasks.map((task) => [
                  task.taskId,
                  task.state,
                  String(task.attempts),
                  formatDuration(task.durationMs),
                  truncate(task.error, 70),
                ]),
              )}\n`,
            );
          }
          if (result.state !== 'success') process.exitCode = EXIT_FAILED;
        });
      } finally {
        interrupt.dispose();
      }
    });
}
