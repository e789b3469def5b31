import type { FastifyInstance } from 'fastify';
import { UsageError } from '../errors.ts';
import { type ApiOptions, buildApi } from './app.ts';
import { isLoopbackHost } from './auth.ts';

export interface ServeOptions extends ApiOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
}

/**
 * Starts the API. Without an API token it refuses to listen beyond loopback, and then serves
 * reads only; with a token, every request needs it, unless `openReads` opens the reads (on
 * loopback only).
 */
export async function startApiServer(options: ServeOptions): Promise<{ app: FastifyInstance; url: string }> {
  if (options.apiToken !== undefined && options.apiToken.length < 16) {
    throw new UsageError('NIGHTSHIFT_API_TOKEN is too short: expected at least 16 characters');
  }
  if (options.openReads && !isLoopbackHost(options.host)) {
    throw new UsageError(
      `refusing --open-reads on ${options.host}: reads without the token are served on loopback only (bind to 127.0.0.1)`,
    );
  }
  if (options.apiToken === undefined && !isLoopbackHost(options.host)) {
    throw new UsageError(
      `refusing to listen on ${options.host} without NIGHTSHIFT_API_TOKEN: set a token, or bind to 127.0.0.1`,
    );
  }
  const app = buildApi(options);
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { app, url: `http://${host}:${port}` };
}
