import type { Command } from 'commander';
import { loadDags } from '../../dag/index.ts';
import { UsageError } from '../../errors.ts';
import { listWorkers, runWorker } from '../../executor/index.ts';
import { POOL_NAME } from '../../executor/pools.ts';
import { configFrom, EXIT_FAILED, interruptSignal, parsePositiveInteger, withStore } from '../context.ts';
import { formatTable, printJson } from '../format.ts';

interface WorkerCommandOptions {
  concurrency: number;
  pools?: string[];
  untilIdle?: boolean;
  pollMs?: number;
}

function parsePoolList(value: string): string[] {
  const pools = value
    .split(',')
    .map((pool) => pool.trim())
    .filter((pool) => pool.length > 0);
  if (pools.length === 0)
    throw new UsageError(`invalid --pools '${value}': expected pool names separated by commas`);
  for (const pool of pools) {
    if (!POOL_NAME.test(pool))
      throw new UsageError(
        `invalid pool name '${pool}' in --pools: expected letters, digits, '_', '.', '-' (tasks without a pool are in 'default')`,
      );
  }
  return pools;
}

export function registerWorkerCommands(program: Command): void {
  program
    .command('worker')
    .description(
      'execute tasks of queued and running runs, alongside other workers on any machine sharing DATABASE_URL',
    )
    .option(
      '--concurrency <n>',
      'task attempts at once in this worker',
      parsePositiveInteger('--concurrency'),
      8,
    )
    .option(
      '--pools <list>',
      "only take tasks of these pools, comma-separated (tasks without a pool are in 'default'); default: all",
      parsePoolList,
    )
    .option('--until-idle', 'exit once no run of the loaded DAGs is queued or running (a drain)')
    .option(
      '--poll-ms <n>',
      'longest wait between looks for work when no notification arrives (default 1000)',
      parsePositiveInteger('--poll-ms'),
    )
    .action(async (options: WorkerCommandOptions, command: Command) => {
      const config = configFrom(command);
      const { dags, errors } = await loadDags(config.dagsDir);
      // A broken DAG file must not stop the others from running.
      for (const error of errors) process.stderr.write(`error: ${error.message}\n`);
      if (dags.length === 0)
        throw new UsageError(
          `no DAGs in ${config.dagsDir}: a worker needs the DAGs' code to run their tasks`,
        );
      const interrupt = interruptSignal('running tasks are handed back to other workers');
      try {
        await withStore(config, async (store) => {
          if (store.kind !== 'postgres')
            process.stderr.write(
              'note: on the embedded store every worker shares one machine; set DATABASE_URL to a Postgres database to scale out\n',
            );
          process.stdout.write(
            `worker executing ${dags.map((dag) => dag.id).join(', ')} (concurrency ${options.concurrency}, pools ${options.pools?.join(',') ?? 'all'})\n`,
          );
          const report = await runWorker({
            store,
            config,
            dags,
            concurrency: options.concurrency,
            pools: options.pools,
            untilIdle: options.untilIdle,
            maxPollMs: options.pollMs,
            signal: interrupt.signal,
            onRunFinished: (run) => process.stdout.write(`run ${run.runId} of ${run.dagId}: ${run.state}\n`),
          });
          const attempts = Object.values(report.executed).reduce((sum, count) => sum + count, 0);
          process.stdout.write(`worker stopped after ${attempts} task attempts\n`);
          if (options.untilIdle && report.runsFinished.some((run) => run.state === 'failed'))
            process.exitCode = EXIT_FAILED;
        });
      } finally {
        interrupt.dispose();
      }
    });

  program
    .command('workers')
    .description('list live workers (--all: stopped and vanished ones too)')
    .option('--all', 'include workers that stopped or stopped heartbeating')
    .option('--json', 'print as JSON')
    .action(async (options: { all?: boolean; json?: boolean }, command: Command) => {
      const config = configFrom(command);
      await withStore(config, async (store) => {
        const workers = await listWorkers(store, { all: options.all });
        if (options.json) return printJson(workers);
        if (workers.length === 0) {
          process.stdout.write(options.all ? 'no workers have run\n' : 'no live workers\n');
          return;
        }
        process.stdout.write(
          `${formatTable(
            ['WORKER', 'STATE', 'POOLS', 'CONCURRENCY', 'TASKS', 'HEARTBEAT', 'DAGS'],
            workers.map((worker) => [
              worker.id,
              worker.live ? 'live' : worker.stoppedAt ? 'stopped' : 'gone',
              worker.pools?.join(',') ?? 'all',
              String(worker.concurrency),
              String(worker.tasksDone),
              worker.heartbeatAt.toISOString(),
              worker.dags.join(','),
            ]),
          )}\n`,
        );
      });
    });
}
