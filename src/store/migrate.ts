import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NightshiftError } from '../errors.ts';
import type { Queryable, Store } from './types.ts';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Any constant shared by every Nightshift process; `hashtext('nightshift.migrate')` would do too. */
const MIGRATION_LOCK_KEY = 7_411_862_003;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function listMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((file) => /^\d{6}_[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = fs.readFileSync(path.join(dir, file), 'utf8');
      return {
        version: Number(file.slice(0, 6)),
        name: file.slice(7, -4),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
}

/**
 * Applies the numbered migrations not yet recorded, in order, each in its own transaction.
 * Processes starting at once serialise on an advisory lock, so each migration runs once.
 * A recorded migration whose file changed since is refused: a migration that landed is never
 * edited; write a new one.
 */
export async function migrate(store: Store, migrations: Migration[] = listMigrations()): Promise<number[]> {
  return store.withSession(async (session) => {
    await session.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await session.query(`CREATE TABLE IF NOT EXISTS nightshift_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const { rows } = await session.query<{ version: number; name: string; checksum: string }>(
        'SELECT version, name, checksum FROM nightshift_migrations ORDER BY version',
      );
      const applied = new Map(rows.map((row) => [row.version, row]));
      const done: number[] = [];
      for (const migration of migrations) {
        const recorded = applied.get(migration.version);
        if (recorded) {
          if (recorded.checksum !== migration.checksum) {
            throw new NightshiftError(
              `migration ${String(migration.version).padStart(6, '0')}_${migration.name}.sql changed after it was applied ` +
                `(recorded sha256 ${recorded.checksum.slice(0, 12)}, file ${migration.checksum.slice(0, 12)}); ` +
                'landed migrations are never edited: add a new numbered migration instead',
            );
          }
          continue;
        }
        await applyOne(session, migration);
        done.push(migration.version);
      }
      return done;
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  });
}

async function applyOne(session: Queryable, migration: Migration): Promise<void> {
  await session.query('BEGIN');
  try {
    await session.query(migration.sql);
    await session.query('INSERT INTO nightshift_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
      migration.version,
      migration.name,
      migration.checksum,
    ]);
    await session.query('COMMIT');
  } catch (error) {
    await session.query('ROLLBACK').catch(() => {});
    throw new NightshiftError(
      `migration ${String(migration.version).padStart(6, '0')}_${migration.name}.sql failed: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
