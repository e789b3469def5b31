import type { Command } from 'commander';
import { loadDags } from '../../dag/index.ts';
import { type NightshiftError, UsageError } from '../../errors.ts';
import { clockFromEnv, runScheduler } from '../../scheduler/index.ts';
import type { KafkaTriggerEvent } from '../../scheduler/kafkaTrigger.ts';
import { brokersForTriggers, declaredKafkaTriggers, startDagTriggers } from '../../scheduler/triggers.ts';
import { configFrom, EXIT_FAILED, interruptSignal, parsePositiveInteger, withStore } from '../context.ts';
import { printJson } from '../format.ts';

interface SchedulerCommandOptions {
  once?: boolean;
  execute: boolean;
  pollMs?: number;
  concurrency?: number;
  json?: boolean;
  triggers: boolean;
  brokers?: string;
}

export function registerSchedulerCommand(program: Command): void {
  program
    .command('scheduler')
    .description(
      'create the runs of scheduled DAGs as their data intervals end (catch-up, maxActiveRuns) and execute queued runs',
    )
    .option(
      '--once',
      'one pass: create the due runs, execute queued runs to the end, then exit (1 if a run failed or a DAG file failed to load)',
    )
    .option(
      '--no-execute',
      'only create runs; workers (or another scheduler) execute them (by default runs are executed here while no live worker can)',
    )
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
    .option(
      '--no-triggers',
      "do not consume the DAGs' Kafka triggers (they are not consumed with --once either)",
    )
    .option('--brokers <list>', 'Kafka brokers for the triggers, host:port[,host:port] (env KAFKA_BROKERS)')
    .action(async (options: SchedulerCommandOptions, command: Command) => {
      const config = configFrom(command);
      if (options.json && !options.once)
        throw new UsageError('--json needs --once (a running scheduler logs instead)');
      const clock = clockFromEnv();
      const { dags, errors } = await loadDags(config.dagsDir);
      // A broken DAG file must not stop the others from running (with --once it makes the exit 1).
      for (const error of errors) process.stderr.write(`error: ${error.message}\n`);
      const triggers = options.once || !options.triggers ? [] : declaredKafkaTriggers(dags);
      const brokers =
        triggers.length > 0 ? brokersForTriggers(triggers, options.brokers ?? process.env.KAFKA_BROKERS) : [];
      const interrupt = interruptSignal('running tasks are handed back');
      // A trigger that stops for good stops the scheduler (exit 1), for its supervisor to restart.
      let triggerFailure: NightshiftError | undefined;
      const failed = new AbortController();
      try {
        await withStore(config, async (store) => {
          const running = await startDagTriggers({
            store,
            triggers,
            brokers,
            clock,
            onEvent: printTriggerEvent,
            onFailure: (error) => {
              triggerFailure ??= error;
              failed.abort(error);
            },
          });
          for (const { spec } of triggers)
            process.stdout.write(
              `listening to Kafka topic ${spec.topic} for DAG ${spec.dagId} (date in '${spec.dateField}')\n`,
            );
          const report = await runScheduler({
            store,
            config,
            dags,
            clock,
            // Unless told not to, it executes runs only while no live worker can.
            execute: options.execute ? 'auto' : false,
            pollMs: options.pollMs,
            concurrency: options.concurrency,
            once: options.once,
            signal: AbortSignal.any([interrupt.signal, failed.signal]),
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
          }).finally(() => running.stop());
          if (triggerFailure) throw triggerFailure;
          if (options.json) printJson(report);
          if (report.finished.some((run) => run.state === 'failed') && options.once)
            process.exitCode = EXIT_FAILED;
          // The DAGs that loaded were scheduled, but a cron-driven pass must not look green
          // while a DAG file is broken: its runs are silently missing.
          if (errors.length > 0 && options.once) {
            process.stderr.write(
              `error: ${errors.length} DAG file${errors.length === 1 ? '' : 's'} failed to load (see above)\n`,
            );
            process.exitCode = EXIT_FAILED;
          }
        });
      } finally {
        interrupt.dispose();
      }
    });
}

function printTriggerEvent(event: KafkaTriggerEvent & { dagId: string }): void {
  const message = `message ${event.topic}/${event.partition}@${event.offset}`;
  if (event.outcome === 'created')
    process.stdout.write(
      `triggered run ${event.runId} of ${event.dagId} for ${event.logicalDate} (${message})\n`,
    );
  else if (event.outcome === 'exists')
    process.stdout.write(
      `run ${event.runId} of ${event.dagId} for ${event.logicalDate} exists: ${message} started nothing\n`,
    );
  // Rejected messages are logged (stderr) with their reason by the trigger.
}
