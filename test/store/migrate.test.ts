import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createPostgresStore, listMigrations, migrate } from '../../src/store/index.ts';
import { describeWithPostgres } from '../helpers/services.ts';
import { createTestDatabase, openTestEnvironment, tempDir } from '../helpers/stores.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** Runs `openStore` in a child process; resolves with the migrations it applied. */
function migrateInChild(env: Record<string, string>): Promise<number[]> {
  const script = `
    import { openStore, migrate } from ${JSON.stringify(path.join(root, 'src/store/index.ts'))};
    const store = await openStore({ databaseUrl: process.env.DATABASE_URL || undefined, home: process.env.NIGHTSHIFT_HOME }, { migrate: false });
    const applied = await migrate(store);
    await store.close();
    process.stdout.write(JSON.stringify(applied));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`child exited ${code}: ${err}`)),
    );
  });
}

describeWithPostgres('migrations on Postgres', () => {
  it('two processes starting at once apply each migration once', async () => {
    const database = await createTestDatabase();
    try {
      const env = { DATABASE_URL: database.url, NIGHTSHIFT_HOME: tempDir() };
      const results = await Promise.all([migrateInChild(env), migrateInChild(env), migrateInChild(env)]);
      const all = listMigrations().map((migration) => migration.version);
      // Exactly one process applied them all; the others found nothing to do.
      expect(results.map((applied) => applied.length).sort()).toEqual([0, 0, all.length]);
      const store = createPostgresStore(database.url);
      const { rows } = await store.query<{ version: number }>(
        'SELECT version FROM nightshift_migrations ORDER BY version',
      );
      expect(rows.map((row) => row.version)).toEqual(all);
      await store.close();
    } finally {
      await database.drop();
    }
  });

  it('refuses a migration edited after it was applied, and applies new ones in order', async () => {
    const database = await createTestDatabase();
    const store = createPostgresStore(database.url);
    try {
      const dir = tempDir('nightshift-migrations-');
      fs.writeFileSync(path.join(dir, '000001_first.sql'), 'CREATE TABLE first_table (id int);');
      expect(await migrate(store, listMigrations(dir))).toEqual([1]);
      fs.writeFileSync(
        path.join(dir, '000002_second.sql'),
        'CREATE TABLE second_table (id int); INSERT INTO second_table VALUES (1);',
      );
      expect(await migrate(store, listMigrations(dir))).toEqual([2]);
      expect(await migrate(store, listMigrations(dir))).toEqual([]);
      fs.writeFileSync(path.join(dir, '000001_first.sql'), 'CREATE TABLE first_table (id bigint);');
      await expect(migrate(store, listMigrations(dir))).rejects.toThrowError(
        /migration 000001_first\.sql changed after it was applied .* add a new numbered migration instead/,
      );
      fs.writeFileSync(path.join(dir, '000001_first.sql'), 'CREATE TABLE first_table (id int);');
      fs.writeFileSync(
        path.join(dir, '000003_broken.sql'),
        'CREATE TABLE third_table (id int); SELECT no_such_function();',
      );
      await expect(migrate(store, listMigrations(dir))).rejects.toThrowError(
        /migration 000003_broken\.sql failed: .*no_such_function/,
      );
      // A failed migration leaves nothing behind: its transaction rolled back.
      const { rows } = await store.query<{ name: string | null }>(
        `SELECT to_regclass('third_table')::text AS name`,
      );
      expect(rows[0]?.name).toBeNull();
    } finally {
      await store.close();
      await database.drop();
    }
  });
});

describe('migrations on the embedded store', () => {
  it('a second process starting at once goes through the first one and applies nothing twice', async () => {
    const env = { DATABASE_URL: '', NIGHTSHIFT_HOME: tempDir() };
    const results = await Promise.all([migrateInChild(env), migrateInChild(env)]);
    expect(results.map((applied) => applied.length).sort()).toEqual([0, listMigrations().length]);
  }, 90_000);

  it('records every migration of a fresh store', async () => {
    const test = await openTestEnvironment('embedded');
    try {
      const { rows } = await test.store.query<{ version: number }>(
        'SELECT version FROM nightshift_migrations ORDER BY version',
      );
      expect(rows.map((row) => row.version)).toEqual(listMigrations().map((migration) => migration.version));
    } finally {
      await test.cleanup();
    }
  });
});
