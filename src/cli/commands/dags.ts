import type { Command } from 'commander';
import { loadDags, summarizeDag } from '../../dag/index.ts';
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
            ['ID', 'SCHEDULE', 'TASKS', 'DESCRIPTION'],
            listed.map((dag) => [
              dag.id,
              dag.schedule ?? '(manual)',
              String(dag.tasks.length),
              truncate(dag.description, 60),
            ]),
          )}\n`,
        );
      }
      if (errors.length > 0) process.exitCode = EXIT_FAILED;
    });
}
