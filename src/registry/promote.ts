import { RegistryStateError, UsageError } from '../errors.ts';
import type { Queryable } from '../store/index.ts';
import {
  type AliasMove,
  CHAMPION,
  getAliases,
  lockModel,
  moveAlias,
  PREVIOUS,
  PromotionRefusedError,
} from './aliases.ts';
import { latestBlessing } from './blessings.ts';
import { getModelVersion } from './versions.ts';

export interface PromoteInput {
  model: string;
  version: number;
  reason: string;
  actor: string;
  /** Promote without a passing blessing; recorded as forced. */
  force?: boolean;
}

export interface PromoteResult {
  champion: number;
  /** `previous` after the move: the old champion for a promotion, null after a rollback. */
  previous: number | null;
  /** The champion this transaction replaced (read under the model's lock). */
  replaced: number | null;
  moves: AliasMove[];
}

/**
 * Makes a version champion and the old champion `previous`, in the caller's transaction, with
 * the history of both moves and the blessing that allowed it. A version without a passing
 * blessing is refused unless forced: a model that was never blessed is never champion by
 * accident. So is a blessing made against another champion than the current one.
 */
export async function promoteVersion(tx: Queryable, input: PromoteInput): Promise<PromoteResult> {
  await lockModel(tx, input.model);
  const version = await getModelVersion(tx, input.model, input.version);
  if (!version)
    throw new UsageError(`model '${input.model}' has no version ${input.version} (see 'models list')`);
  const blessing = await latestBlessing(tx, input.model, input.version);
  if (!blessing?.passed && !input.force) {
    const why = blessing
      ? `its latest blessing (#${blessing.id}) failed: ${failedRules(blessing.rules)}`
      : 'it was never validated';
    throw new PromotionRefusedError(
      `refusing to promote ${input.model}@${input.version}: ${why}; use --force to promote it anyway (recorded as forced)`,
    );
  }
  const aliases = await getAliases(tx, input.model);
  const oldChampion = aliases[CHAMPION] ?? null;
  if (oldChampion === input.version) {
    throw new RegistryStateError(`${input.model}@${input.version} is already champion`);
  }
  // A blessing compares the candidate with the champion of its time: once another version is
  // champion (a promotion or rollback since), that comparison says nothing about this one.
  if (blessing?.passed && !input.force && blessing.baselineVersion !== oldChampion) {
    const then =
      blessing.baselineVersion === null ? 'with no champion' : `against champion ${blessing.baselineVersion}`;
    const now = oldChampion === null ? 'there is no champion now' : `the champion is now ${oldChampion}`;
    throw new PromotionRefusedError(
      `refusing to promote ${input.model}@${input.version}: its blessing (#${blessing.id}) was made ${then}, but ${now}; validate it again, or use --force to promote it anyway (recorded as forced)`,
    );
  }
  const common = { model: input.model, action: 'promote' as const, reason: input.reason, actor: input.actor };
  const moves: AliasMove[] = [];
  if (oldChampion !== null) {
    const move = await moveAlias(tx, { ...common, alias: PREVIOUS, toVersion: oldChampion });
    if (move) moves.push(move);
  }
  const championMove = await moveAlias(tx, {
    ...common,
    alias: CHAMPION,
    toVersion: input.version,
    blessingId: blessing?.passed ? blessing.id : null,
    forced: !blessing?.passed,
  });
  if (championMove) moves.push(championMove);
  return { champion: input.version, previous: oldChampion, replaced: oldChampion, moves };
}

export interface RollbackInput {
  model: string;
  /** The version to go back to; default: `previous`. */
  to?: number;
  reason: string;
  actor: string;
}

/**
 * Moves `champion` back to `previous` (or to a given version that was blessed or champion
 * before). `previous` is then removed, so that a second rollback cannot flip back to the
 * version just rolled back from; roll forward by promoting it again.
 */
export async function rollbackChampion(tx: Queryable, input: RollbackInput): Promise<PromoteResult> {
  await lockModel(tx, input.model);
  const aliases = await getAliases(tx, input.model);
  const current = aliases[CHAMPION] ?? null;
  const target = input.to ?? aliases[PREVIOUS];
  if (target === undefined) {
    throw new RegistryStateError(
      `model '${input.model}' has no 'previous' version to roll back to: name one with --to <version>`,
    );
  }
  if (target === current) throw new RegistryStateError(`${input.model}@${target} is already champion`);
  const version = await getModelVersion(tx, input.model, target);
  if (!version) throw new UsageError(`model '${input.model}' has no version ${target} (see 'models list')`);
  const blessing = await latestBlessing(tx, input.model, target);
  const wasChampion = await tx.query(
    `SELECT 1 FROM alias_history WHERE model = $1 AND alias = $2 AND to_version = $3 LIMIT 1`,
    [input.model, CHAMPION, target],
  );
  if (!blessing?.passed && wasChampion.rows.length === 0) {
    throw new PromotionRefusedError(
      `refusing to roll ${input.model} back to version ${target}: it was never blessed nor champion; promote it with --force instead`,
    );
  }
  const common = {
    model: input.model,
    action: 'rollback' as const,
    reason: input.reason,
    actor: input.actor,
  };
  const moves: AliasMove[] = [];
  const championMove = await moveAlias(tx, {
    ...common,
    alias: CHAMPION,
    toVersion: target,
    blessingId: blessing?.passed ? blessing.id : null,
  });
  if (championMove) moves.push(championMove);
  const previousMove = await moveAlias(tx, { ...common, alias: PREVIOUS, toVersion: null });
  if (previousMove) moves.push(previousMove);
  return { champion: target, previous: null, replaced: current, moves };
}

function failedRules(rules: unknown[]): string {
  const failed = rules
    .filter(
      (rule): rule is { verdict: string; reason?: string } =>
        (rule as { verdict?: string })?.verdict === 'fail',
    )
    .map((rule) => rule.reason ?? 'a rule failed');
  return failed.length > 0 ? failed.join('; ') : 'no rule passed';
}
