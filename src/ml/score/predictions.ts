import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { plainNameProblem } from '../../data/fileNames.ts';
import { verifyFileSha256 } from '../../data/verifiedFiles.ts';
import { DataError } from '../../errors.ts';
import type { PredictionsManifest } from './batch.ts';

/**
 * Reading a predictions folder (`score --output`, `<home>/predictions/<dag>/date=D/`). Its
 * `_manifest.json` is written last, once every shard is written and verified: a folder without
 * it is a run that failed or is still going (its shards are kept so that a rerun resumes), and
 * is never taken for complete.
 */

export const PREDICTIONS_MANIFEST = '_manifest.json';

export interface VerifiedPredictions {
  manifest: PredictionsManifest;
  /** Absolute paths of the shards' Parquet files, in manifest order, each verified by sha256. */
  files: string[];
}

/**
 * The manifest and shard files of a complete predictions folder. Throws DataError when the
 * manifest is missing (naming the shard files found, and that the output is incomplete), names a
 * file outside the folder, or a shard is missing or differs from its recorded size or sha256.
 */
export async function readPredictions(outputDir: string): Promise<VerifiedPredictions> {
  const manifestFile = path.join(outputDir, PREDICTIONS_MANIFEST);
  let text: string;
  try {
    text = await readFile(manifestFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const found = (await shardFilesIn(outputDir)).join(', ') || 'no shard files';
    throw new DataError(
      `${outputDir}: expected complete predictions with ${PREDICTIONS_MANIFEST}, found none (${found}): ` +
        'the scoring run failed or is still running; rerun score with the same input and output to finish it',
    );
  }
  let manifest: PredictionsManifest;
  try {
    manifest = JSON.parse(text) as PredictionsManifest;
  } catch (error) {
    throw new DataError(`${manifestFile}: expected a JSON predictions manifest, found unparseable text`, {
      cause: error,
    });
  }
  if (manifest?.format !== 1 || !Array.isArray(manifest.shards)) {
    throw new DataError(`${manifestFile}: expected a predictions manifest (format 1 with shards)`);
  }
  const files: string[] = [];
  for (const shard of manifest.shards) {
    const problem = plainNameProblem(shard?.shard);
    if (problem !== undefined) {
      throw new DataError(`${manifestFile}: lists shard ${JSON.stringify(shard?.shard)}: ${problem}`);
    }
    const file = path.join(outputDir, `${shard.shard}.parquet`);
    await verifyFileSha256(file, shard, PREDICTIONS_MANIFEST);
    files.push(file);
  }
  return { manifest, files };
}

/** What a failed scoring run left in its output folder: the shards written and those missing. */
export interface IncompleteOutput {
  outputDir: string;
  planned: number;
  written: string[];
  missing: string[];
}

export function describeIncompleteOutput(incomplete: IncompleteOutput): string {
  return (
    `${incomplete.outputDir} is incomplete (no ${PREDICTIONS_MANIFEST}): ${incomplete.written.length} of ` +
    `${incomplete.planned} shards written, missing ${incomplete.missing.join(', ')}; ` +
    'rerun with the same input and output to score only the missing shards'
  );
}

async function shardFilesIn(outputDir: string): Promise<string[]> {
  const entries = await readdir(outputDir).catch(() => [] as string[]);
  return entries.filter((entry) => /^shard-\d+\.parquet$/.test(entry)).sort();
}
