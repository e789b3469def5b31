import type { Command } from 'commander';
import { loadDags } from '../../dag/index.ts';
import { UsageError } from '../../errors.ts';
import { clockFromEnv } from '../../scheduler/clock.ts';
import { startApiServer } from '../../server/index.ts';
import { configFrom, withStore } from '../context.ts';

function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65_535) {
    throw new UsageError(`invalid --port '${value}': expected 0 to 65535 (0 picks a free port)`);
  }
  return Number(value);
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(
      'HTTP API: GET /api/dags, GET /api/runs?dag=&limit=, GET /api/runs/:id, POST /api/dags/:id/runs (Bearer NIGHTSHIFT_API_TOKEN, reads included)',
    )
    .option(
      '--host <host>',
      'address to listen on (beyond loopback only with NIGHTSHIFT_API_TOKEN)',
      '127.0.0.1',
    )
    .option('--port <n>', 'port (0 picks a free one)', parsePort, 8080)
    .option('--open-reads', 'with a token, serve GET routes without it (loopback only)', false)
    .action(async (options: { host: string; port: number; openReads: boolean }, command: Command) => {
      const config = configFrom(command);
      const token = process.env.NIGHTSHIFT_API_TOKEN?.trim() || undefined;
      const { dags, errors } = await loadDags(config.dagsDir);
      for (const error of errors) process.stderr.write(`error: ${error.message}\n`);
      await withStore(config, async (store) => {
        const { app, url } = await startApiServer({
          store,
          dags,
          apiToken: token,
          openReads: options.openReads,
          clock: clockFromEnv(),
          host: options.host,
          port: options.port,
        });
        const access = token
          ? options.openReads
            ? ' (reads open on loopback, mutations need NIGHTSHIFT_API_TOKEN)'
            : ''
          : ' (no NIGHTSHIFT_API_TOKEN: reads only)';
        process.stdout.write(`listening on ${url}${access}\n`);
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            resolve();
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        await app.close();
      });
    });
}
