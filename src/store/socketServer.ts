import net from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler, type PGLiteSocketHandlerOptions } from '@electric-sql/pglite-socket';
import type { Mutex } from './mutex.ts';
import {
  cleartextPasswordRequest,
  fatalError,
  isStartupMessage,
  passwordMatches,
  passwordOf,
} from './socketAuth.ts';

/**
 * Serves the embedded store to other processes over the Postgres wire protocol, on a loopback
 * port. PGlite has one session, shared by local callers and every socket client, so they take
 * turns through one gate, and a turn is a whole query cycle, not a protocol message:
 *
 * - `pg` sends a parameterised query as Parse, Bind, Describe, Execute, Sync. Between those
 *   messages PGlite is not "in a transaction", yet another caller's statement run there would
 *   replace the client's unnamed statement (seen: "bind message supplies 2 parameters, but
 *   prepared statement \"\" requires 1", and the local query getting no rows).
 * - A client that opens a transaction keeps the gate until it commits or rolls back.
 *
 * So a client takes the gate with its first message and gives it back after a Sync or a simple
 * Query that leaves no transaction open. pglite-socket's own queue gates per message, which is
 * why its handler is given this queue instead.
 */
class CycleGatedQueue {
  #holder: number | undefined;
  #release: (() => void) | undefined;
  /** Clients by handler until they give the password: their startup message, held back. */
  readonly #unauthenticated = new Map<number, { startup?: Uint8Array; refused?: boolean }>();
  readonly #authenticated = new Set<number>();

  constructor(
    private readonly db: PGlite,
    private readonly gate: Mutex,
    private readonly password: string,
  ) {}

  async enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    if (!this.#authenticated.has(handlerId)) return this.#authenticate(handlerId, message, onData);
    return this.#forward(handlerId, message, onData);
  }

  /** Nothing reaches PGlite before the password (see socketAuth.ts). */
  async #authenticate(
    handlerId: number,
    message: Uint8Array,
    onData: (data: Uint8Array) => void,
  ): Promise<number> {
    const state = this.#unauthenticated.get(handlerId) ?? {};
    this.#unauthenticated.set(handlerId, state);
    const refuse = (code: string, text: string) => {
      state.refused = true;
      const error = fatalError(code, text);
      onData(error);
      return error.length;
    };
    if (state.refused) return refuse('28P01', 'authentication failed');
    if (state.startup === undefined) {
      if (!isStartupMessage(message)) return refuse('08P01', 'expected a startup message');
      state.startup = message.slice();
      const request = cleartextPasswordRequest();
      onData(request);
      return request.length;
    }
    const given = passwordOf(message);
    if (given === undefined) return refuse('08P01', 'expected a password message');
    if (!passwordMatches(given, this.password))
      return refuse('28P01', 'password authentication failed for the embedded store (see its lock file)');
    this.#unauthenticated.delete(handlerId);
    this.#authenticated.add(handlerId);
    // PGlite answers the startup message: AuthenticationOk, parameters, ReadyForQuery.
    return this.#forward(handlerId, state.startup, onData);
  }

  async #forward(
    handlerId: number,
    message: Uint8Array,
    onData: (data: Uint8Array) => void,
  ): Promise<number> {
    if (this.#holder !== handlerId) {
      const release = await this.gate.acquire();
      this.#holder = handlerId;
      this.#release = release;
    }
    let bytes = 0;
    try {
      await this.db.runExclusive(() =>
        this.db.execProtocolRawStream(message, {
          onRawData: (data: Uint8Array) => {
            bytes += data.length;
            onData(data);
          },
        }),
      );
    } finally {
      if (endsQueryCycle(message) && !this.db.isInTransaction()) this.#giveBack();
    }
    return bytes;
  }

  /** The handler awaits each message in turn, so nothing of its is ever waiting here. */
  clearQueueForHandler(handlerId: number): void {
    this.#unauthenticated.delete(handlerId);
    this.#authenticated.delete(handlerId);
  }

  /** A client gone mid-transaction: roll it back and give the gate back. */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    this.#unauthenticated.delete(handlerId);
    this.#authenticated.delete(handlerId);
    if (this.#holder !== handlerId) return;
    try {
      if (this.db.isInTransaction()) await this.db.runExclusive(() => this.db.exec('ROLLBACK'));
    } finally {
      this.#giveBack();
    }
  }

  getQueueLength(): number {
    return 0;
  }

  #giveBack(): void {
    const release = this.#release;
    this.#holder = undefined;
    this.#release = undefined;
    release?.();
  }
}

const SYNC = 0x53; // 'S'
const SIMPLE_QUERY = 0x51; // 'Q'
const TERMINATE = 0x58; // 'X'

function endsQueryCycle(message: Uint8Array): boolean {
  const type = message[0];
  if (type === SYNC || type === SIMPLE_QUERY || type === TERMINATE) return true;
  // The startup message has no type byte: a length, then the protocol version.
  return isStartupMessage(message);
}

export interface RunningSocketServer {
  port: number;
  stop(): Promise<void>;
}

/** Idle clients are disconnected (a transaction left open is rolled back) after this long. */
const IDLE_TIMEOUT_MS = 60_000;

/**
 * How long a closing holder waits for connected clients to disconnect before cutting them off.
 * A client is a CLI command (`runs list` next to `runs show`) that is done within a second or
 * two; cut off mid-work, it fails though the store was there when it connected (seen in CI).
 */
const CLIENT_DRAIN_MS = 10_000;

/** Serves the store on a loopback port to clients that give `password` (kept in the lock file). */
export async function startSocketServer(
  db: PGlite,
  gate: Mutex,
  password: string,
): Promise<RunningSocketServer> {
  const queue = new CycleGatedQueue(db, gate, password);
  const handlers = new Set<PGLiteSocketHandler>();
  let onAllGone: (() => void) | undefined;
  const forget = (handler: PGLiteSocketHandler) => {
    handlers.delete(handler);
    if (handlers.size === 0) onAllGone?.();
  };
  const server = net.createServer((socket) => {
    const handler = new PGLiteSocketHandler({
      queryQueue: queue as unknown as PGLiteSocketHandlerOptions['queryQueue'],
      closeOnDetach: true,
      idleTimeout: IDLE_TIMEOUT_MS,
    });
    handlers.add(handler);
    // A handler that fails (reset, idle timeout) detaches itself without a 'close' event.
    handler.addEventListener('close', () => forget(handler));
    handler.addEventListener('error', () => forget(handler));
    handler.attach(socket).catch(() => {
      socket.destroy();
      forget(handler);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string')
    throw new Error('the embedded store socket did not get a TCP port');
  return {
    port: address.port,
    async stop() {
      // No new clients: one that tries now is refused, retries, and takes the lock once it is
      // released. Clients already connected finish first, for CLIENT_DRAIN_MS at most.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if (handlers.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          onAllGone = resolve;
          timer = setTimeout(resolve, CLIENT_DRAIN_MS);
        });
        clearTimeout(timer);
      }
      await Promise.all([...handlers].map((handler) => handler.detach(true).catch(() => undefined)));
      await closed;
    },
  };
}
