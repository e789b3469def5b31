import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createPostgresStore, describeConnectionString, openStore } from '../../src/store/index.ts';
import { describeWithPostgres } from '../helpers/services.ts';
import { createTestDatabase, tempDir } from '../helpers/stores.ts';

describe('describeConnectionString', () => {
  it('redacts the password of the user info and of the query, whatever the case of its name', () => {
    expect(
      describeConnectionString(
        'postgres://app:hunter2@db:5432/x?password=hunter3&sslPassword=k&application_name=n',
      ),
    ).toBe('postgres://app:***@db:5432/x?password=***&sslPassword=***&application_name=n');
    expect(describeConnectionString('postgres://db/x?PASSWORD=hunter2')).toBe('postgres://db/x?PASSWORD=***');
    expect(describeConnectionString('host=db password=hunter2')).not.toContain('hunter2');
  });
});

describeWithPostgres('a Postgres store opened with passwords in its URL', () => {
  it('works, and its description (printed by demo) shows neither password', async () => {
    const database = await createTestDatabase();
    try {
      // The test server trusts local connections: the passwords are sent and ignored.
      const url = new URL(database.url);
      url.password = 'in-user-info-secret';
      url.searchParams.set('password', 'in-query-secret');
      const store = await openStore({ databaseUrl: url.toString(), home: tempDir() });
      try {
        expect((await store.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        expect(store.description).not.toMatch(/secret/);
        expect(store.description).toContain('password=***');
      } finally {
        await store.close();
      }
    } finally {
      await database.drop();
    }
  });
});

describeWithPostgres('LISTEN on Postgres', () => {
  it('reconnects and listens again after its connection is killed, and logs both', async () => {
    const database = await createTestDatabase();
    const lines: { msg: string; channel?: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const store = createPostgresStore(database.url, { log });
    let notified = 0;
    const waitFor = async (what: string, done: () => boolean) => {
      const deadline = Date.now() + 15_000;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const unlisten = await (store.listen as NonNullable<typeof store.listen>)(
      'test_wakeups',
      () => notified++,
    );
    try {
      await store.query(`NOTIFY test_wakeups`);
      await waitFor('the first notification', () => notified === 1);
      for (const round of [1, 2]) {
        const { rows } = await store.query<{ killed: boolean }>(
          `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
           WHERE datname = current_database() AND query = 'LISTEN test_wakeups'`,
        );
        expect(rows, `round ${round}`).toEqual([{ killed: true }]);
        await waitFor(
          `listening again (round ${round})`,
          () => lines.filter((line) => line.msg === 'listening for notifications again').length === round,
        );
        // One wake-up for what may have been sent while disconnected, then notifications again.
        const before = notified;
        await store.query(`NOTIFY test_wakeups`);
        await waitFor(`a notification after reconnecting (round ${round})`, () => notified === before + 1);
      }
      expect(lines.filter((line) => /connection lost; reconnecting/.test(line.msg))).toHaveLength(2);
      expect(lines.every((line) => line.channel === 'test_wakeups')).toBe(true);
    } finally {
      await unlisten();
      await store.close();
      await database.drop();
    }
    // Stopped: no reconnection after unlisten.
    const logged = lines.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(lines.length).toBe(logged);
  });
});
