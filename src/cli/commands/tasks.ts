import type { Command } from 'commander';
import { clearTaskInstances, getRun, listTaskInstances } from '../../dag/index.ts';
import { UsageError } from '../../errors.ts';
import { configFrom, parseRunId, withStore } from '../context.ts';

export function registerTaskCommands(program: Command): void {
  const tasks = program.command('tasks').description('task instances');
  tasks
    .command('clear')
    .description('reset tasks of a run so that the next `run` executes them again')
    .argument('<run-id>', 'run id (see runs list)')
    .option('--task <id...>', 'only these tasks (default: every task of the run)')
    .option('--downstream', 'also clear every task downstream of them')
    .action(
      async (runIdText: string, options: { task?: string[]; downstream?: boolean }, command: Command) => {
        const runId = parseRunId(runIdText);
        const config = configFrom(command);
        await withStore(config, async (store) => {
          const run = await getRun(store, runId);
          if (!run) throw new UsageError(`no run ${runId} (see 'runs list')`);
          if (options.task) {
            const known = new Set((await listTaskInstances(store, runId)).map((instance) => instance.taskId));
            const unknown = options.task.filter((taskId) => !known.has(taskId));
            if (unknown.length > 0) {
              throw new UsageError(
                `run ${runId} of ${run.dagId} has no task ${unknown.map((t) => `'${t}'`).join(', ')}; its tasks: ${[...known].join(', ')}`,
              );
            }
          }
          const { cleared } = await clearTaskInstances(store, runId, {
            taskIds: options.task,
            downstream: options.downstream,
          });
          process.stdout.write(
            cleared.length === 0
              ? 'nothing to clear\n'
              : `cleared ${cleared.length} task(s) of run ${runId}: ${cleared.join(', ')}\n`,
          );
        });
      },
    );
}
