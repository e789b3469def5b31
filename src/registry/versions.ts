import path from 'node:path';
import { NightshiftError, UsageError } from '../errors.ts';
import type { Queryable, Store } from '../store/index.ts';

/**
 * Model versions in the store. A version is registered once, with its artifact already on
 * disk, and never changes afterwards except for its status (the registry issue's promotion).
 */
export type ModelVersionStatus = 'candidate' | 'blessed' | 'rejected' | 'archived';

export interface PartitionLineage {
  date: string;
  files: { name: string; sha256: string; rows: number }[];
}

export interface ModelVersionLineage {
  pipeline: string;
  dataset: string;
  partitions: PartitionLineage[];
  seed: number;
  backend: string;
  gitCommit: string | null;
  /** Training settings as run (epochs, batch size...), and what they started from. */
  settings: Record<string, unknown>;
  warmStartFrom?: { model: string; version: number } | null;
  /**
   * The training window asked for; `missing` lists its days that had no complete partition and
   * were trained without (`train --allow-gaps`). Absent in versions registered before.
   */
  window?: { from: string; to: string; missing: string[] };
}

export interface ModelVersion {
  model: string;
  version: number;
  status: ModelVersionStatus;
  /** Relative to NIGHTSHIFT_HOME. */
  artifactPath: string;
  artifactSha256: string;
  metrics: Record<string, unknown>;
  lineage: ModelVersionLineage;
  trainingCurves: unknown[];
  createdAt: Date;
}

export interface RegisterModelVersionRequest {
  model: string;
  pipeline: string;
  metrics: Record<string, unknown>;
  lineage: ModelVersionLineage;
  trainingCurves: unknown[];
  /**
   * Writes the artifact for the number just allocated, inside the registering transaction: if
   * writing fails nothing is registered, and a crash before commit leaves only an orphan
   * folder that the next registration of that number replaces.
   */
  writeArtifact(version: number): Promise<{ dir: string; manifestSha256: string }>;
  /** NIGHTSHIFT_HOME, to store the artifact path relative to it. */
  home: string;
}

interface VersionRow {
  model: string;
  version: number;
  status: ModelVersionStatus;
  artifact_path: string;
  artifact_sha256: string;
  metrics: Record<string, unknown>;
  lineage: ModelVersionLineage;
  training_curves: unknown[];
  created_at: Date;
}

const COLUMNS =
  'model, version, status, artifact_path, artifact_sha256, metrics, lineage, training_curves, created_at';

function fromRow(row: VersionRow): ModelVersion {
  return {
    model: row.model,
    version: Number(row.version),
    status: row.status,
    artifactPath: row.artifact_path,
    artifactSha256: row.artifact_sha256,
    metrics: row.metrics,
    lineage: row.lineage,
    trainingCurves: row.training_curves,
    createdAt: row.created_at,
  };
}

/** NaN and infinities become null: JSON has no such numbers and jsonb refuses them. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, item) =>
    typeof item === 'number' && !Number.isFinite(item) ? null : item,
  );
}

/** Allocates the next number under the model row's lock (see the migration), then inserts. */
export async function registerModelVersion(
  store: Store,
  request: RegisterModelVersionRequest,
): Promise<ModelVersion> {
  return store.transaction(async (tx) => {
    const allocated = await tx.query<{ last_version: number }>(
      `INSERT INTO models (name, pipeline, last_version) VALUES ($1, $2, 1)
       ON CONFLICT (name) DO UPDATE SET last_version = models.last_version + 1
       RETURNING last_version`,
      [request.model, request.pipeline],
    );
    const version = Number(allocated.rows[0]?.last_version);
    const artifact = await request.writeArtifact(version);
    const inserted = await tx.query<VersionRow>(
      `INSERT INTO model_versions (model, version, artifact_path, artifact_sha256, metrics, lineage, training_curves)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb)
       RETURNING ${COLUMNS}`,
      [
        request.model,
        version,
        path.relative(request.home, artifact.dir),
        artifact.manifestSha256,
        toJson(request.metrics),
        toJson(request.lineage),
        toJson(request.trainingCurves),
      ],
    );
    return fromRow(inserted.rows[0] as VersionRow);
  });
}

export async function getModelVersion(
  db: Queryable,
  model: string,
  version: number,
): Promise<ModelVersion | undefined> {
  const result = await db.query<VersionRow>(
    `SELECT ${COLUMNS} FROM model_versions WHERE model = $1 AND version = $2`,
    [model, version],
  );
  return result.rows[0] === undefined ? undefined : fromRow(result.rows[0]);
}

/** Newest first. */
export async function listModelVersions(db: Queryable, model?: string): Promise<ModelVersion[]> {
  const result = await db.query<VersionRow>(
    `SELECT ${COLUMNS} FROM model_versions WHERE $1::text IS NULL OR model = $1 ORDER BY model, version DESC`,
    [model ?? null],
  );
  return result.rows.map(fromRow);
}

/** Parses `name@version` (a number) or `name@latest`; aliases come with the registry issue. */
export function parseModelReference(reference: string): { model: string; version: number | 'latest' } {
  const match = /^([A-Za-z0-9][\w.-]*)@(\d+|latest)$/.exec(reference);
  if (!match) {
    throw new UsageError(
      `model reference: expected <name>@<version> (e.g. flights-delay@3 or flights-delay@latest), found '${reference}'`,
    );
  }
  return { model: match[1] as string, version: match[2] === 'latest' ? 'latest' : Number(match[2]) };
}

export async function resolveModelVersion(db: Queryable, reference: string): Promise<ModelVersion> {
  const { model, version } = parseModelReference(reference);
  const found =
    version === 'latest'
      ? (await listModelVersions(db, model))[0]
      : await getModelVersion(db, model, version);
  if (found === undefined) {
    throw new NightshiftError(
      `model ${reference}: expected a registered version, found none (see 'models list')`,
    );
  }
  return found;
}

export function artifactDirOf(home: string, version: ModelVersion): string {
  return path.resolve(home, version.artifactPath);
}
