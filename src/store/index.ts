export { embeddedPaths, openEmbeddedStore } from './embedded.ts';
export { listMigrations, type Migration, migrate } from './migrate.ts';
export { type OpenStoreOptions, openStore } from './open.ts';
export { createPostgresStore, describeConnectionString } from './postgres.ts';
export { isTransientDbError, withTransientRetry } from './retry.ts';
export type { Queryable, QueryResult, Row, Store, StoreKind } from './types.ts';
