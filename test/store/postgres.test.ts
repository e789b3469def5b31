import { describe, expect, it } from 'vitest';
import { describeConnectionString, openStore } from '../../src/store/index.ts';
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
