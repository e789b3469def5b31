import type { Command } from 'commander';
import { findDag, getRun, listRuns, summarizeRun, summarizeTasks } from '../../dag/index.ts';
import { UsageError } from '../../errors.ts';
import { configFrom, parsePositiveInteger, parseRunId, withStore } from '../context.ts';
import { formatDuration, formatTable, printJson, truncate } from '../format.ts';

export function registerRunsCommands(program: Command): void {
  const runs = program.command('runs').description('DAG runs');
  runs
    .command('list')
    .description('recent runs, newest logical date first')
    .option('--dag <id>', 'only this DAG')
    .option('--limit <n>', 'at most this many runs (default 100)', parsePositiveInteger('--limit'))
    .option('--json', 'print a JSON array')
    .action(async (options: { dag?: string; limit?: number; json?: boolean }, command: Command) => {
      const config = configFrom(command);
      await withStore(config, async (store) => {
        const found = await listRuns(store, { dagId: options.dag, limit: options.limit });
        const summaries = found.map((run) => summarizeRun(run));
        if (options.json) return printJson(summaries);
        if (summaries.length === 0) return void process.stdout.write('no runs\n');
        process.stdout.write(
          `${formatTable(
            ['RUN', 'DAG', 'LOGICAL DATE', 'STATE', 'TYPE', 'STARTED', 'DURATION'],
            summaries.map((run) => [
              String(run.id),
              run.dagId,
              run.logicalDate,
              run.state,
              run.runType,
              run.startedAt?.replace('T', ' ').slice(0, 19) ?? '-',
              formatDuration(run.durationMs),
            ]),
          )}\n`,
        );
      });
    });
  runs
    .command('show')
    .description('one run: every task with its state, attempts, duration, error and outputs')
    .argument('<run-id>', 'run id (see runs list)')
    .option('--json', 'print JSON')
    .action(async (runIdText: string, options: { json?: boolean }, command: Command) => {
      const runId = parseRunId(runIdText);
      const config = configFrom(command);
      await withStore(config, async (store) => {
        const found = await getRun(store, runId);
        if (!found) throw new UsageError(`no run ${runId} (see 'runs list')`);
        const timezone =
          (await findDag(config.dagsDir, found.dagId).catch(() => undefined))?.timezone ?? 'UTC';
        const run = summarizeRun(found, timezone);
        const tasks = await summarizeTasks(store, runId);
        if (options.json) return printJson({ run, tasks });
        process.stdout.write(
          `run ${run.id} of ${run.dagId} for ${run.logicalDate} [${run.dataInterval.start} .. ${run.dataInterval.end}): ` +
            `${run.state}, ${run.runType}, ${formatDuration(run.durationMs)}, conf ${JSON.stringify(run.conf)}\n\n`,
        );
        process.stdout.write(
          `${formatTable(
            ['TASK', 'STATE', 'ATTEMPTS', 'DURATION', 'ERROR', 'OUTPUTS'],
            tasks.map((task) => [
              task.taskId,
              task.state,
              String(task.attempts),
              formatDuration(task.durationMs),
              truncate(task.error, 60),
              truncate(task.outputs === null ? '' : JSON.stringify(task.outputs), 60),
            ]),
          )}\n`,
        );
      });
    });
}
