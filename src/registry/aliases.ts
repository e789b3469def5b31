import os from 'node:os';
import { NightshiftError, RegistryStateError, UsageError } from '../errors.ts';
import type { Queryable } from '../store/index.ts';
import { getModelVersion, listModelVersions, type ModelVersion } from './versions.ts';

export const CHAMPION = 'champion';
export const PREVIOUS = 'previous';
export const CHALLENGER = 'challenger';

const ALIAS_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

/** Who moved an alias: `user@host` from the CLI, `dag:<id>/run:<n>` from a DAG. */
export function cliActor(): string {
  let user = process.env.USER ?? 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // No passwd entry (some containers): keep $USER.
  }
  return `${user}@${os.hostname()}`;
}

export interface AliasMove {
  id: number;
  model: string;
  alias: string;
  action: 'promote' | 'rollback' | 'set' | 'remove';
  fromVersion: number | null;
  toVersion: number | null;
  reason: string;
  actor: string;
  blessingId: number | null;
  forced: boolean;
  createdAt: Date;
}

const HISTORY_COLUMNS = `id, model, alias, action, from_version AS "fromVersion", to_version AS "toVersion", reason,
  actor, blessing_id AS "blessingId", forced, created_at AS "createdAt"`;

/** The aliases of a model, alias to version. */
export async function getAliases(db: Queryable, model: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ alias: string; version: number }>(
    'SELECT alias, version FROM model_aliases WHERE model = $1 ORDER BY alias',
    [model],
  );
  return Object.fromEntries(rows.map((row) => [row.alias, row.version]));
}

/** Aliases of every model, by model then version. */
export async function getAllAliases(db: Queryable): Promise<Map<string, Map<number, string[]>>> {
  const { rows } = await db.query<{ model: string; alias: string; version: number }>(
    'SELECT model, alias, version FROM model_aliases ORDER BY model, alias',
  );
  const byModel = new Map<string, Map<number, string[]>>();
  for (const row of rows) {
    const versions = byModel.get(row.model) ?? new Map<number, string[]>();
    versions.set(row.version, [...(versions.get(row.version) ?? []), row.alias]);
    byModel.set(row.model, versions);
  }
  return byModel;
}

/** Versions are Postgres integers: a larger number is bad usage, not a database error. */
export const MAX_VERSION = 2 ** 31 - 1;

/**
 * Checks the shape of `model@version`, `model@latest` or `model@alias` without a store, so that
 * a command can refuse a bad reference before it opens (or creates) one.
 */
export function parseModelRef(reference: string): { model: string; target: string } {
  const match = /^([A-Za-z0-9][\w.-]*)@([A-Za-z0-9][\w-]*)$/.exec(reference);
  if (!match) {
    throw new UsageError(
      `invalid model reference '${reference}': expected <model>@<version|alias>, such as flights-delay@3 or flights-delay@champion`,
    );
  }
  const target = match[2] as string;
  if (/^\d+$/.test(target) && (Number(target) < 1 || Number(target) > MAX_VERSION)) {
    throw new UsageError(
      `invalid model reference '${reference}': the version must be from 1 to ${MAX_VERSION}`,
    );
  }
  return { model: match[1] as string, target };
}

/**
 * Resolves `model@version`, `model@latest` or `model@alias` to a version. Errors name what was
 * asked for and what exists.
 */
export async function resolveModelRef(db: Queryable, reference: string): Promise<ModelVersion> {
  const { model, target } = parseModelRef(reference);
  if (/^\d+$/.test(target)) {
    const found = await getModelVersion(db, model, Number(target));
    if (found) return found;
    throw new UsageError(`${reference}: ${await describeModel(db, model)}`);
  }
  if (target === 'latest') {
    const [newest] = await listModelVersions(db, model);
    if (newest) return newest;
    throw new UsageError(`${reference}: ${await describeModel(db, model)}`);
  }
  const aliases = await getAliases(db, model);
  const version = aliases[target];
  if (version === undefined) {
    const known = Object.entries(aliases).map(([alias, v]) => `${alias} -> ${v}`);
    throw new AliasNotSetError(
      model,
      target,
      `${reference}: model '${model}' has no alias '${target}' (${known.length > 0 ? `its aliases: ${known.join(', ')}` : await describeModel(db, model)})`,
    );
  }
  const found = await getModelVersion(db, model, version);
  if (!found) {
    // The schema's foreign key forbids it: a store in this state is broken, not empty.
    throw new NightshiftError(`${reference}: alias points at version ${version}, which is not registered`);
  }
  return found;
}

/**
 * `model@alias` names an alias the model does not have, or a model that is not registered: the
 * one error that means "no such alias yet" (for `champion`: no champion exists). A usage error
 * from the command line; tasks catch exactly this class (see `findChampion`).
 */
export class AliasNotSetError extends UsageError {
  readonly model: string;
  readonly alias: string;
  constructor(model: string, alias: string, message: string) {
    super(message);
    this.model = model;
    this.alias = alias;
  }
}

/**
 * The champion of a model, or undefined when none exists (AliasNotSetError for `champion`).
 * Any other error (the store unreachable, a broken row) is thrown: it must fail the caller, not
 * pass for "no champion", which would let floors alone bless a candidate or skip scoring.
 */
export async function findChampion(db: Queryable, model: string): Promise<ModelVersion | undefined> {
  try {
    return await resolveModelRef(db, `${model}@${CHAMPION}`);
  } catch (error) {
    if (error instanceof AliasNotSetError && error.alias === CHAMPION && error.model === model)
      return undefined;
    throw error;
  }
}

async function describeModel(db: Queryable, model: string): Promise<string> {
  const versions = await listModelVersions(db, model);
  if (versions.length === 0) return `no model '${model}' is registered (see 'models list')`;
  return `model '${model}' has versions ${versions
    .map((v) => v.version)
    .reverse()
    .join(', ')}`;
}

export interface MoveAliasInput {
  model: string;
  alias: string;
  /** The new version, or null to remove the alias. */
  toVersion: number | null;
  action: AliasMove['action'];
  reason: string;
  actor: string;
  blessingId?: number | null;
  forced?: boolean;
}

/** Points an alias at a version (or removes it) and appends the move to the history. */
export async function moveAlias(tx: Queryable, input: MoveAliasInput): Promise<AliasMove | undefined> {
  if (!ALIAS_PATTERN.test(input.alias)) {
    throw new UsageError(
      `invalid alias '${input.alias}': expected lower-case letters, digits, '-' or '_', starting with a letter`,
    );
  }
  if (input.reason.trim() === '') throw new UsageError('a reason is required for every alias move');
  const current = await tx.query<{ version: number }>(
    'SELECT version FROM model_aliases WHERE model = $1 AND alias = $2 FOR UPDATE',
    [input.model, input.alias],
  );
  const fromVersion = current.rows[0]?.version ?? null;
  if (fromVersion === input.toVersion) return undefined;
  if (input.toVersion === null) {
    await tx.query('DELETE FROM model_aliases WHERE model = $1 AND alias = $2', [input.model, input.alias]);
  } else {
    await tx.query(
      `INSERT INTO model_aliases (model, alias, version) VALUES ($1, $2, $3)
       ON CONFLICT (model, alias) DO UPDATE SET version = EXCLUDED.version, updated_at = now()`,
      [input.model, input.alias, input.toVersion],
    );
  }
  const { rows } = await tx.query<AliasMove>(
    `INSERT INTO alias_history (model, alias, action, from_version, to_version, reason, actor, blessing_id, forced)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     RETURNING ${HISTORY_COLUMNS}`,
    [
      input.model,
      input.alias,
      input.action,
      fromVersion,
      input.toVersion,
      input.reason,
      input.actor,
      input.blessingId ?? null,
      input.forced ?? false,
    ],
  );
  return rows[0];
}

export async function aliasHistory(db: Queryable, model: string): Promise<AliasMove[]> {
  const { rows } = await db.query<AliasMove>(
    `SELECT ${HISTORY_COLUMNS} FROM alias_history WHERE model = $1 ORDER BY id`,
    [model],
  );
  return rows;
}

/**
 * Locks the model's row for the rest of the transaction: promotions and rollbacks of one model
 * run one at a time, so two at the same moment leave exactly one champion and both recorded.
 */
export async function lockModel(tx: Queryable, model: string): Promise<void> {
  const { rows } = await tx.query('SELECT name FROM models WHERE name = $1 FOR UPDATE', [model]);
  if (rows.length === 0) throw new UsageError(`no model '${model}' is registered (see 'models list')`);
}

/** A promotion or rollback refused for the version's blessings (never blessed, failed). */
export class PromotionRefusedError extends RegistryStateError {}
