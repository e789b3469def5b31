import type { NightshiftConfig } from '../config.ts';
import { openEmbeddedStore } from './embedded.ts';
import { migrate } from './migrate.ts';
import { createPostgresStore } from './postgres.ts';
import type { Store } from './types.ts';

export interface OpenStoreOptions {
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /** For the embedded store: serve it to other processes on a loopback socket (default true). */
  serve?: boolean;
}

/** Postgres when `DATABASE_URL` is set, else the embedded PGlite store under `NIGHTSHIFT_HOME`. */
export async function openStore(
  config: Pick<NightshiftConfig, 'databaseUrl' | 'home'>,
  options: OpenStoreOptions = {},
): Promise<Store> {
  const store = config.databaseUrl
    ? createPostgresStore(config.databaseUrl)
    : await openEmbeddedStore({ home: config.home, serve: options.serve ?? true });
  if (options.migrate ?? true) {
    try {
      await migrate(store);
    } catch (error) {
      await store.close();
      throw error;
    }
  }
  return store;
}
