import type { Queryable } from '../store/index.ts';

/** A stored blessing: the verdict of validating one version, with every rule's result. */
export interface BlessingRecord {
  id: number;
  model: string;
  version: number;
  passed: boolean;
  baselineVersion: number | null;
  holdout: Record<string, unknown>;
  /** Every rule: its value, threshold, verdict and reason (src/validation's RuleResult). */
  rules: unknown[];
  runId: number | null;
  createdAt: Date;
}

const COLUMNS = `id, model, version, passed, baseline_version AS "baselineVersion", holdout, rules,
  run_id AS "runId", created_at AS "createdAt"`;

export interface RecordBlessingInput {
  model: string;
  version: number;
  passed: boolean;
  baselineVersion: number | null;
  holdout: Record<string, unknown>;
  rules: unknown[];
  runId?: number | null;
}

/**
 * Stores a blessing and sets the version's status from it: `blessed` when it passed, else
 * `rejected`. A version already champion or archived keeps its status history in the blessings.
 */
export async function recordBlessing(tx: Queryable, input: RecordBlessingInput): Promise<BlessingRecord> {
  const { rows } = await tx.query<BlessingRecord>(
    `INSERT INTO blessings (model, version, passed, baseline_version, holdout, rules, run_id)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7)
     RETURNING ${COLUMNS}`,
    [
      input.model,
      input.version,
      input.passed,
      input.baselineVersion,
      JSON.stringify(input.holdout),
      JSON.stringify(input.rules, (_key, value) =>
        typeof value === 'number' && !Number.isFinite(value) ? null : value,
      ),
      input.runId ?? null,
    ],
  );
  await tx.query(
    `UPDATE model_versions SET status = $3 WHERE model = $1 AND version = $2 AND status IN ('candidate', 'blessed', 'rejected')`,
    [input.model, input.version, input.passed ? 'blessed' : 'rejected'],
  );
  return rows[0] as BlessingRecord;
}

/** The newest blessing of a version, if it was ever validated. */
export async function latestBlessing(
  db: Queryable,
  model: string,
  version: number,
): Promise<BlessingRecord | undefined> {
  const { rows } = await db.query<BlessingRecord>(
    `SELECT ${COLUMNS} FROM blessings WHERE model = $1 AND version = $2 ORDER BY id DESC LIMIT 1`,
    [model, version],
  );
  return rows[0];
}

export async function getBlessing(db: Queryable, id: number): Promise<BlessingRecord | undefined> {
  const { rows } = await db.query<BlessingRecord>(`SELECT ${COLUMNS} FROM blessings WHERE id = $1`, [id]);
  return rows[0];
}
