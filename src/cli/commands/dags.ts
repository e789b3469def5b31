import type { Command } from 'commander';
import { describeTrigger, findDag, loadDags, summarizeDag } from '../../dag/index.ts';
import { UsageError } from '../../errors.ts';
import { configFrom, EXIT_FAILED } from '../context.ts';
import { formatTable, printJson, truncate } from '../format.ts';

export function registerDagCommands(program: Command): void {
  const dags = program.command('dags').description('DAG definitions');
  dags
    .command('list')
    .description('load and validate every DAG file; list the DAGs (errors go to stderr)')
    .option('--json', 'print a JSON array')
    .action(async (options: { json?: boolean }, command: Command) => {
      const config = configFrom(command);
      const { dags: loaded, errors } = await loadDags(config.dagsDir);
      for (const error of errors) process.stderr.write(`error: ${error.message}\n`);
      const listed = loaded.map((dag) => ({ ...summarizeDag(dag), file: dag.file ?? null }));
      if (options.json) {
        printJson(listed);
      } else if (listed.length === 0) {
        process.stdout.write(`no DAGs in ${config.dagsDir}\n`);
      } else {
        process.stdout.write(
          `${formatTable(
            ['ID', 'SCHEDULE', 'TRIGGERS', 'TASKS', 'DESCRIPTION'],
            listed.map((dag) => [
              dag.id,
              dag.schedule ?? '(manual)',
              dag.triggers.length === 0 ? '-' : dag.triggers.map(describeTrigger).join(', '),
              String(dag.tasks.length),
              truncate(dag.description, 60),
            ]),
          )}\n`,
        );
      }
      if (errors.length > 0) process.exitCode = EXIT_FAILED;
    });
  dags
    .command('show')
    .description('load and validate one DAG file; show its schedule, triggers and tasks')
    .argument('<dag>', 'DAG id (the file dags/<id>.ts)')
    .option('--json', 'print a JSON object')
    .action(async (dagId: string, options: { json?: boolean }, command: Command) => {
      const config = configFrom(command);
      const dag = await findDag(config.dagsDir, dagId);
      if (!dag)
        throw new UsageError(`unknown DAG '${dagId}': no ${dagId}.ts in ${config.dagsDir} (see 'dags list')`);
      const summary = { ...summarizeDag(dag), file: dag.file ?? null };
      if (options.json) return printJson(summary);
      const lines = [
        `${summary.id}${summary.description ? `: ${summary.description}` : ''}`,
        `file:            ${summary.file ?? '-'}`,
        `schedule:        ${summary.schedule ?? '(manual)'} (${summary.timezone})`,
        `start date:      ${summary.startDate ?? '-'}`,
        `catch-up:        ${summary.catchup ? 'yes' : 'no'}`,
        `max active runs: ${summary.maxActiveRuns}`,
        `triggers:        ${summary.triggers.length === 0 ? '-' : summary.triggers.map(describeTrigger).join(', ')}`,
        '',
        formatTable(
          ['TASK', 'DEPENDS ON', 'RETRIES', 'POOL'],
          summary.tasks.map((task) => [
            task.id,
            task.deps.length === 0 ? '-' : task.deps.join(', '),
            String(task.retries),
            task.pool ?? '-',
          ]),
        ),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
