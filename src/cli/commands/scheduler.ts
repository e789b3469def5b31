import type { Command } from 'commander';
import { loadDags } from '../../dag/index.ts';
import { UsageError } from '../../errors.ts';
import { clockFromEnv, runScheduler } from '../../scheduler/index.ts';
import { configFrom, EXIT_FAILED, interruptSignal, parsePositiveInteger, withStore } from '../context.ts';
import { printJson } from '../format.ts';

interface SchedulerCommandOptions {
  once?: boolean;
  execute: boolean;
  pollMs?: number;
  concurrency?: number;
  json?: boolean;
}

export function registerSchedulerCommand(program: Command): void {
  program
    .command('scheduler')
    .description(
      'create the runs of scheduled DAGs as their data intervals end (catch-up, maxActiveRuns) and execute queued runs',
    )
    .option('--once', 'one pass: create the due runs, execute queued runs to the end, then exit')
    .option('--no-execute', 'only create runs; workers (or another scheduler) execute them')
    .option(
      '--poll-ms <n>',
      'time between scheduling passes (default 5000)',
      parsePositiveInteger('--poll-ms'),
    )
    .option(
      '--concurrency <n>',
      'task attempts at once per executing run',
      parsePositiveInteger('--concurrency'),
    )
    .option('--json', 'with --once: print the runs created and finished as JSON')
    .action(async (options: SchedulerCommandOptions, command: Command) => {
      const config = configFrom(command);
      if (options.json && !options.once)
        throw new UsageError('--json needs --once (a running scheduler logs instead)');
      const clock = clockFromEnv();
      const { dags, errors } = await loadDags(config.dagsDir);
      // A broken DAG file must not stop the others from running.
      for (const error of errors) process.stderr.write(`error: ${error.message}\n`);
      const interrupt = interruptSignal('running tasks are handed back');
      try {
        await withStore(config, async (store) => {
          const report = await runScheduler({
            store,
            config,
            dags,
            clock,
            execute: options.execute,
            pollMs: options.pollMs,
            concurrency: options.concurrency,
            once: options.once,
            signal: interrupt.signal,
            onScheduled: options.json
              ? undefined
              : (run) =>
                  process.stdout.write(`scheduled run ${run.runId} of ${run.dagId} for ${run.logicalDate}\n`),
            onFinished: options.json
              ? undefined
              : (run) =>
                  process.stdout.write(
                    `run ${run.runId} of ${run.dagId} for ${run.logicalDate}: ${run.state}${run.error ? ` (${run.error})` : ''}\n`,
                  ),
          });
          if (options.json) printJson(report);
          if (report.finished.some((run) => run.state === 'failed') && options.once)
            process.exitCode = EXIT_FAILED;
        });
      } finally {
        interrupt.dispose();
      }
    });
}
