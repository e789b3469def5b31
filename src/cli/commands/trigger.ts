import type { Command } from 'commander';
import {
  findDag,
  formatLogicalDate,
  isIsoDate,
  parseLogicalDate,
  runDag,
  summarizeRun,
} from '../../dag/index.ts';
import { NightshiftError, UsageError } from '../../errors.ts';
import { clockFromEnv } from '../../scheduler/clock.ts';
import { triggerRun } from '../../scheduler/trigger.ts';
import { configFrom, EXIT_FAILED, withStore } from '../context.ts';
import { printJson } from '../format.ts';
import { parseConf } from './run.ts';

interface TriggerCommandOptions {
  date?: string;
  conf?: string;
  wait?: boolean;
  json?: boolean;
}

export function registerTriggerCommand(program: Command): void {
  program
    .command('trigger')
    .description(
      'create a queued manual run for the scheduler or a worker to execute (--wait: execute it here)',
    )
    .argument('<dag>', 'DAG id')
    .option(
      '--date <YYYY-MM-DD>',
      "logical date (default: a scheduled DAG's latest complete interval, else today in its time zone)",
    )
    .option('--conf <json>', 'run configuration, a JSON object overriding the DAG params')
    .option('--wait', 'execute the run in this process, to the end (resumes an existing run)')
    .option('--json', 'print the run as JSON')
    .action(async (dagId: string, options: TriggerCommandOptions, command: Command) => {
      const config = configFrom(command);
      if (options.date !== undefined && !isIsoDate(options.date)) parseLogicalDate(options.date, 'UTC');
      const conf = parseConf(options.conf);
      const dag = await findDag(config.dagsDir, dagId);
      if (!dag)
        throw new UsageError(`unknown DAG '${dagId}': no ${dagId}.ts in ${config.dagsDir} (see 'dags list')`);
      const now = clockFromEnv()();
      await withStore(config, async (store) => {
        const { run, created } = await triggerRun(store, dag, { date: options.date, conf, now });
        const ds = formatLogicalDate(run.logicalDate, dag.timezone);
        if (!created && !options.wait) {
          throw new NightshiftError(
            `run ${run.id} of ${dag.id} for ${ds} already exists (${run.state}): 'run ${dag.id} --date ${ds}' resumes it, 'tasks clear ${run.id}' reruns tasks`,
          );
        }
        if (!options.wait) {
          if (options.json) return printJson(summarizeRun(run, dag.timezone));
          process.stdout.write(`run ${run.id} of ${dag.id} for ${ds}: queued\n`);
          return;
        }
        const result = await runDag({ store, config, dag, logicalDate: run.logicalDate, conf });
        if (options.json) printJson(summarizeRun(result.run, dag.timezone));
        else process.stdout.write(`run ${result.run.id} of ${dag.id} for ${ds}: ${result.state}\n`);
        if (result.state !== 'success') process.exitCode = EXIT_FAILED;
      });
    });
}
