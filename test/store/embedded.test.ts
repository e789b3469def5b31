import fs from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { StoreLockedError } from '../../src/errors.ts';
import { embeddedPaths, openEmbeddedStore } from '../../src/store/index.ts';
import { importPath, spawnScript } from '../helpers/child.ts';
import { seedEmbeddedHome, tempDir } from '../helpers/stores.ts';

/** A child process that opens the embedded store, says "ready", and closes it when stdin ends. */
function holder(home: string, serve: boolean) {
  return spawnScript(
    `import { openStore } from ${importPath('src/store/index.ts')};
     const store = await openStore({ databaseUrl: undefined, home: ${JSON.stringify(home)} }, { serve: ${serve} });
     process.stdout.write('ready\\n');
     process.stdin.resume();
     process.stdin.on('end', async () => {
       const { rows } = await store.query("SELECT count(*)::int AS n FROM pools WHERE name LIKE 'from-client-%'");
       process.stdout.write('pools=' + rows[0].n + '\\n');
       await store.close();
     });`,
  );
}

describe('the embedded store', () => {
  it('lets a second process in through the holder socket, sharing committed data', async () => {
    const home = tempDir();
    await seedEmbeddedHome(home);
    const child = holder(home, true);
    await child.waitFor('ready');
    const client = await openEmbeddedStore({ home });
    try {
      expect(client.kind).toBe('embedded-client');
      expect(client.description).toContain(`through pid ${child.child.pid}`);
      await client.transaction(async (tx) => {
        await tx.query(`INSERT INTO pools (name, slots) VALUES ('from-client-1', 1)`);
        await tx.query(`INSERT INTO pools (name, slots) VALUES ('from-client-2', 2)`);
      });
      await expect(
        client.transaction(async (tx) => {
          await tx.query(`INSERT INTO pools (name, slots) VALUES ('from-client-3', 3)`);
          throw new Error('roll me back');
        }),
      ).rejects.toThrowError('roll me back');
    } finally {
      await client.close();
    }
    child.child.stdin?.end();
    await child.waitFor('pools=');
    expect(child.stdout()).toContain('pools=2');
    await child.exited;
    expect(fs.existsSync(embeddedPaths(home).lockPath)).toBe(false);
  });

  it('lets a connected client finish its work before the holder closes', async () => {
    // Seen in CI: `runs show` (the holder) exited while `runs list` (its client) was migrating,
    // and the client died of the dropped connection.
    const home = tempDir();
    await seedEmbeddedHome(home);
    const child = holder(home, true);
    await child.waitFor('ready');
    const client = await openEmbeddedStore({ home });
    let holderExited = false;
    void child.exited.then(() => (holderExited = true));
    try {
      child.child.stdin?.end();
      await child.waitFor('pools=');
      // The holder is closing now; the client's next statements still reach it.
      for (let i = 0; i < 10; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const { rows } = await client.query<{ n: number }>('SELECT count(*)::int + $1 AS n FROM pools', [i]);
        expect(rows[0]?.n).toBe(i);
      }
      expect(holderExited).toBe(false);
    } finally {
      await client.close();
    }
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(fs.existsSync(embeddedPaths(home).lockPath)).toBe(false);
  });

  it('fails the statement, not the process, when the holder dies in the middle of a session', async () => {
    const home = tempDir();
    await seedEmbeddedHome(home);
    const child = holder(home, true);
    await child.waitFor('ready');
    const client = spawnScript(
      `import { openEmbeddedStore } from ${importPath('src/store/index.ts')};
       const store = await openEmbeddedStore({ home: ${JSON.stringify(home)} });
       const outcome = await store.withSession(async (session) => {
         await session.query('SELECT 1');
         process.stdout.write('in session\\n');
         await new Promise((resolve) => process.stdin.resume().once('end', resolve));
         return session.query('SELECT 1');
       }).then(() => 'succeeded', (error) => 'rejected: ' + error.message);
       process.stdout.write(outcome + '\\n');
       await store.close();`,
    );
    try {
      await client.waitFor('in session');
      child.child.kill('SIGKILL');
      await child.exited;
      // Let the client see its connection close before it sends the next statement.
      await new Promise((resolve) => setTimeout(resolve, 200));
      client.child.stdin?.end();
      expect(await client.exited, client.stderr()).toEqual({ code: 0, signal: null });
      expect(client.stdout()).toMatch(/^rejected: /m);
    } finally {
      client.child.kill('SIGKILL');
      child.child.kill('SIGKILL');
    }
  });

  it('refuses a second process when the holder does not serve, naming it and DATABASE_URL', async () => {
    const home = tempDir();
    await seedEmbeddedHome(home);
    const child = holder(home, false);
    await child.waitFor('ready');
    try {
      const error = await openEmbeddedStore({ home, connectTimeoutMs: 300 }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(StoreLockedError);
      expect((error as Error).message).toContain(`held by pid ${child.child.pid} on ${os.hostname()}`);
      expect((error as Error).message).toContain(
        'set DATABASE_URL to a Postgres server for multi-process use',
      );
    } finally {
      child.child.stdin?.end();
      await child.exited;
    }
  });

  it('takes over a stale lock left by a dead process', async () => {
    const home = tempDir();
    await seedEmbeddedHome(home);
    const dead = spawnScript('process.exit(0)');
    await dead.exited;
    const { lockPath } = embeddedPaths(home);
    fs.writeFileSync(
      lockPath,
      JSON.stringify({
        pid: dead.child.pid,
        hostname: os.hostname(),
        command: 'killed',
        startedAt: new Date(0).toISOString(),
      }),
    );
    const store = await openEmbeddedStore({ home, serve: false });
    try {
      expect(store.kind).toBe('embedded');
      expect(JSON.parse(fs.readFileSync(lockPath, 'utf8')).pid).toBe(process.pid);
    } finally {
      await store.close();
    }
  });

  it("keeps socket clients and local callers from landing inside each other's query cycles", async () => {
    const home = tempDir();
    await seedEmbeddedHome(home);
    const store = await openEmbeddedStore({ home });
    const { socket } = JSON.parse(fs.readFileSync(embeddedPaths(home).lockPath, 'utf8')) as {
      socket: { port: number; password: string };
    };
    const client = new pg.Client({
      host: '127.0.0.1',
      port: socket.port,
      user: 'nightshift',
      password: socket.password,
    });
    await client.connect();
    const wrong: string[] = [];
    try {
      const remote = (async () => {
        for (let i = 0; i < 150; i++) {
          const { rows } = await client.query<{ v: number; who: string }>(
            'SELECT $1::int AS v, $2::text AS who',
            [i, 'remote'],
          );
          if (rows[0]?.v !== i) wrong.push(`remote ${i}: ${JSON.stringify(rows)}`);
        }
      })();
      const local = (async () => {
        for (let i = 0; i < 150; i++) {
          // A local transaction that awaits I/O, then a query at once: the socket client's
          // Parse/Bind/Execute must not be split by either.
          await store.transaction(async (tx) => {
            await tx.query('SELECT $1::int AS x', [i]);
            await new Promise((resolve) => setTimeout(resolve, 1));
          });
          const { rows } = await store.query<{ w: string }>('SELECT $1::text AS w', [`local${i}`]);
          if (rows[0]?.w !== `local${i}`) wrong.push(`local ${i}: ${JSON.stringify(rows)}`);
        }
      })();
      await Promise.all([remote, local]);
      expect(wrong).toEqual([]);
    } finally {
      await client.end();
      await store.close();
    }
  });

  it('serves its socket only to clients with the password in the lock file, which only its owner reads', async () => {
    const home = tempDir();
    await seedEmbeddedHome(home);
    const store = await openEmbeddedStore({ home });
    const lockPath = embeddedPaths(home).lockPath;
    try {
      expect(fs.statSync(lockPath).mode & 0o777).toBe(0o600);
      const { socket } = JSON.parse(fs.readFileSync(lockPath, 'utf8')) as {
        socket: { port: number; password: string };
      };
      expect(socket.password).toMatch(/^[\w-]{40,}$/);
      const connect = async (password: string | undefined) => {
        const client = new pg.Client({ host: '127.0.0.1', port: socket.port, user: 'nightshift', password });
        try {
          await client.connect();
          return (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pools')).rows[0]?.n;
        } finally {
          await client.end().catch(() => {});
        }
      };
      for (const password of [undefined, '', 'wrong', `${socket.password}x`]) {
        await expect(connect(password), String(password)).rejects.toThrow(
          /password authentication failed|password/,
        );
      }
      expect(await connect(socket.password)).toBe(0);

      // A client that skips the startup and password sends queries straight away: refused.
      const net = await import('node:net');
      const raw = net.connect(socket.port, '127.0.0.1');
      const received: Buffer[] = [];
      raw.on('data', (chunk) => received.push(chunk));
      await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
      const sql = Buffer.from("INSERT INTO pools (name, slots) VALUES ('sneaked', 1)\0", 'utf8');
      const query = Buffer.alloc(5);
      query.write('Q', 0, 'latin1');
      query.writeInt32BE(4 + sql.length, 1);
      raw.write(Buffer.concat([query, sql]));
      await new Promise((resolve) => setTimeout(resolve, 300));
      raw.destroy();
      const answer = Buffer.concat(received);
      expect(answer[0]).toBe('E'.charCodeAt(0));
      expect(answer.toString('latin1')).toContain('expected a startup message');
      expect(
        (await store.query<{ n: number }>("SELECT count(*)::int AS n FROM pools WHERE name = 'sneaked'"))
          .rows[0]?.n,
      ).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('counts the rows a statement returned or changed, as pg does', async () => {
    const home = tempDir();
    await seedEmbeddedHome(home);
    const store = await openEmbeddedStore({ home, serve: false });
    try {
      await store.query(`INSERT INTO pools (name, slots) VALUES ('a', 1), ('b', 2)`);
      expect((await store.query('SELECT name FROM pools WHERE slots > $1', [0])).rowCount).toBe(2);
      expect((await store.query('SELECT name FROM pools WHERE slots > $1 FOR UPDATE', [1])).rowCount).toBe(1);
      expect((await store.query('UPDATE pools SET slots = slots + 1 WHERE slots > $1', [0])).rowCount).toBe(
        2,
      );
      expect((await store.query('DELETE FROM pools WHERE name = $1', ['nope'])).rowCount).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('serves one client after another with the same statements', async () => {
    const home = tempDir();
    await seedEmbeddedHome(home);
    const child = holder(home, true);
    await child.waitFor('ready');
    try {
      for (let i = 0; i < 3; i++) {
        const client = await openEmbeddedStore({ home });
        const { rows } = await client.query<{ n: number }>('SELECT count(*)::int + $1 AS n FROM pools', [i]);
        expect(rows[0]?.n).toBe(i);
        await client.close();
      }
    } finally {
      child.child.stdin?.end();
      await child.exited;
    }
  });
});
