import type { Store } from '../store/index.ts';
import { type ClaimedTaskInstance, type ClaimScope, claimTaskInstances } from './sql/claimTaskInstances.ts';

export interface WorkClaimerOptions {
  store: Store;
  scope: ClaimScope;
  owner: string;
  leaseMs: number;
  /** Only task instances of these pools (`default` for tasks without one); all when omitted. */
  servedPools?: readonly string[];
  /** Caps for this process alone, on top of the pools table's caps (which hold across processes). */
  localSlots?: Readonly<Record<string, number>>;
}

/** How long the list of capped pools is reused before it is read again. */
const POOL_LIST_TTL_MS = 2_000;

/**
 * Claims task instances for one executor (a run in `runDag`, or a worker across runs) while
 * keeping every pool within its slots. Pools in the `pools` table are capped across all
 * processes: their instances are claimed apart, one statement per pool, under a lock on the
 * pool's row (nightshift_pool_claim_limit). Tasks in other pools, or in none, are claimed
 * together in one statement, so pools cost nothing when none is capped.
 */
export class WorkClaimer {
  #capped: string[] = [];
  #cappedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: WorkClaimerOptions) {}

  /** Claims up to `free` instances, given the pools of the attempts this executor is running. */
  async claim(free: number, active: Iterable<{ pool: string | null }>): Promise<ClaimedTaskInstance[]> {
    const { store, scope, owner, leaseMs, servedPools } = this.options;
    const local = this.options.localSlots ?? {};
    const capped = await this.#cappedPools();
    const used = new Map<string, number>();
    for (const entry of active) if (entry.pool) used.set(entry.pool, (used.get(entry.pool) ?? 0) + 1);
    const apart = [...new Set([...capped, ...Object.keys(local)])].sort();

    const claims = await claimTaskInstances(store, {
      scope,
      owner,
      limit: free,
      leaseMs,
      excludePools: apart,
      servedPools,
    });
    let remaining = free - claims.length;
    for (const pool of apart) {
      if (remaining <= 0) break;
      if (servedPools && !servedPools.includes(pool)) continue;
      const localSlots = local[pool];
      const want = Math.min(
        remaining,
        localSlots === undefined ? remaining : localSlots - (used.get(pool) ?? 0),
      );
      if (want <= 0) continue;
      const pooled = await claimTaskInstances(store, {
        scope,
        owner,
        limit: want,
        leaseMs,
        servedPools,
        onlyPool: pool,
      });
      claims.push(...pooled);
      remaining -= pooled.length;
    }
    return claims;
  }

  async #cappedPools(): Promise<string[]> {
    if (Date.now() - this.#cappedAt > POOL_LIST_TTL_MS) {
      const { rows } = await this.options.store.query<{ name: string }>(
        'SELECT name FROM pools ORDER BY name',
      );
      this.#capped = rows.map((row) => row.name);
      this.#cappedAt = Date.now();
    }
    return this.#capped;
  }
}
