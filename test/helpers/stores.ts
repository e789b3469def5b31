// Stores for tests: each test file (or test) gets its own embedded home or its own Postgres
// database, so tests are isolated and can run in parallel.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig, type NightshiftConfig } from '../../src/config.ts';
import { embeddedPaths, listMigrations, openStore, type Store } from '../../src/store/index.ts';
import { postgresUrl } from './services.ts';

export type StoreKindUnderTest = 'embedded' | 'postgres';

export function tempDir(prefix = 'nightshift-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A folder for DAG files outside the repo: an ES module package, as a user's would be. */
export function tempDagsDir(): string {
  const dir = tempDir('nightshift-dags-');
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  return dir;
}

/** Creates an empty database on the test Postgres server; returns its URL and a dropper. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = postgresUrl();
  if (!adminUrl) throw new Error('no Postgres for this test (describeWithPostgres should have skipped it)');
  const name = `nightshift_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * A fresh PGlite database takes about 9 s to create (initdb in WASM) and 1.7 s to open. Tests
 * copy a migrated template instead (about 0.1 s), made once per set of migrations and shared by
 * test workers through the temp folder.
 */
async function embeddedTemplate(): Promise<string> {
  const hash = createHash('sha256')
    .update(
      listMigrations()
        .map((migration) => migration.checksum)
        .join(','),
    )
    .digest('hex')
    .slice(0, 12);
  const template = path.join(os.tmpdir(), `nightshift-pglite-template-${hash}`);
  if (fs.existsSync(path.join(template, 'pglite', 'PG_VERSION'))) return template;
  const building = tempDir('nightshift-pglite-template-building-');
  const store = await openStore({ databaseUrl: undefined, home: building }, { serve: false });
  await store.close();
  try {
    fs.renameSync(building, template);
  } catch {
    // Another worker made it first: use theirs.
    fs.rmSync(building, { recursive: true, force: true });
  }
  return template;
}

/** Fills `home` with a copy of the migrated embedded template. */
export async function seedEmbeddedHome(home: string): Promise<void> {
  const template = await embeddedTemplate();
  fs.cpSync(path.join(template, 'pglite'), embeddedPaths(home).dataDir, { recursive: true });
}

export interface TestEnvironment {
  kind: StoreKindUnderTest;
  store: Store;
  config: NightshiftConfig;
  /** Environment variables for a child process that should use the same store and home. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** A migrated store of the given kind with its own home folder. */
export async function openTestEnvironment(
  kind: StoreKindUnderTest,
  options: { serve?: boolean } = {},
): Promise<TestEnvironment> {
  const home = tempDir();
  if (kind === 'embedded') {
    await seedEmbeddedHome(home);
    const config = loadConfig({ home, databaseUrl: undefined }, { ...process.env, DATABASE_URL: '' });
    const store = await openStore(config, { serve: options.serve ?? false });
    return {
      kind,
      store,
      config,
      env: { NIGHTSHIFT_HOME: home, DATABASE_URL: '' },
      async cleanup() {
        await store.close();
        fs.rmSync(home, { recursive: true, force: true });
      },
    };
  }
  const database = await createTestDatabase();
  const config = loadConfig({ home, databaseUrl: database.url });
  const store = await openStore(config);
  return {
    kind,
    store,
    config,
    env: { NIGHTSHIFT_HOME: home, DATABASE_URL: database.url },
    async cleanup() {
      await store.close();
      await database.drop();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** The store kinds to run a suite on: the embedded store always, Postgres when available. */
export function storeKinds(): { kind: StoreKindUnderTest; skip: boolean }[] {
  return [
    { kind: 'embedded', skip: false },
    { kind: 'postgres', skip: postgresUrl() === null },
  ];
}
