import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { plainNameProblem } from '../data/fileNames.ts';
import { NightshiftError, UsageError } from '../errors.ts';

/**
 * Model artifacts on disk, in TensorFlow.js's own layout so any TF.js tool reads them
 * (tfjs-node's `file://<dir>/model.json` handler, tfjs-converter):
 *
 *   <home>/artifacts/<model>/<version>/
 *     model.json      topology, training config and a weights manifest pointing at weights.bin
 *     weights.bin     every weight, concatenated
 *     <extra files>   e.g. features.json: the fitted feature stats scoring reuses unchanged
 *     manifest.json   written last: byte size and sha256 of every file above, plus metadata
 *
 * The folder is written under a temporary name and renamed into place, so a reader never sees
 * half an artifact. Loading checks every sum and refuses a tampered or truncated artifact.
 */
export const MODEL_FILE = 'model.json';
export const WEIGHTS_FILE = 'weights.bin';
export const ARTIFACT_MANIFEST_FILE = 'manifest.json';
const ARTIFACT_FORMAT = 1;

/** A damaged, tampered or missing artifact; never retriable: the bytes will not fix themselves. */
export class ArtifactError extends NightshiftError {
  readonly file: string;
  constructor(file: string, message: string, options: { cause?: unknown } = {}) {
    super(`${file}: ${message}`, options);
    this.file = file;
  }
}

export interface ArtifactFileEntry {
  name: string;
  bytes: number;
  sha256: string;
}

export interface ArtifactManifest {
  format: typeof ARTIFACT_FORMAT;
  model: string;
  version: number;
  files: ArtifactFileEntry[];
  createdAt: string;
  /** Free-form JSON the caller attaches: pipeline, feature slots, backend... */
  metadata: Record<string, unknown>;
}

export interface SavedArtifact {
  dir: string;
  manifest: ArtifactManifest;
  /** sha256 of manifest.json itself: recorded by the registry, it pins every byte of the artifact. */
  manifestSha256: string;
}

export interface LoadedArtifact {
  dir: string;
  model: tfl.LayersModel;
  manifest: ArtifactManifest;
  manifestSha256: string;
  /** The extra files' text, by name. */
  extras: Record<string, string>;
}

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,127}$/i;

export function artifactDir(home: string, model: string, version: number): string {
  if (!NAME_PATTERN.test(model) || model.includes('..')) {
    throw new UsageError(`model name: expected letters, digits, '.', '_' or '-', found '${model}'`);
  }
  if (!Number.isInteger(version) || version < 1) {
    throw new UsageError(`model version: expected a positive integer, found ${version}`);
  }
  return path.join(home, 'artifacts', model, String(version));
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** model.json and weights.bin exactly as `model.save('file://...')` in tfjs-node writes them. */
export async function serializeLayersModel(
  model: tfl.LayersModel,
): Promise<{ modelJson: string; weights: Uint8Array }> {
  let captured: { modelJson: string; weights: Uint8Array } | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = new Uint8Array(
        tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0)),
      );
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology ?? {},
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      captured = { modelJson: JSON.stringify(modelJson), weights };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(modelJson) };
    }),
  );
  if (captured === undefined) throw new Error('model.save did not call the save handler');
  return captured;
}

export interface SaveArtifactOptions {
  home: string;
  model: string;
  version: number;
  layersModel: tfl.LayersModel;
  /** Extra files by name (not model.json, weights.bin or manifest.json). */
  extras?: Record<string, string>;
  metadata?: Record<string, unknown>;
  /**
   * Replace a folder already at that version. Only for a version number not yet committed to the
   * registry (a crash between writing the artifact and committing leaves such an orphan).
   */
  replace?: boolean;
}

export async function saveModelArtifact(options: SaveArtifactOptions): Promise<SavedArtifact> {
  const dir = artifactDir(options.home, options.model, options.version);
  const { modelJson, weights } = await serializeLayersModel(options.layersModel);
  const files = new Map<string, Uint8Array | string>([
    [MODEL_FILE, modelJson],
    [WEIGHTS_FILE, weights],
  ]);
  for (const [name, text] of Object.entries(options.extras ?? {})) {
    if (files.has(name) || name === ARTIFACT_MANIFEST_FILE || path.basename(name) !== name) {
      throw new UsageError(`artifact extra file: '${name}' is reserved or not a plain file name`);
    }
    files.set(name, text);
  }
  const manifest: ArtifactManifest = {
    format: ARTIFACT_FORMAT,
    model: options.model,
    version: options.version,
    files: [...files].map(([name, data]) => ({
      name,
      bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength,
      sha256: sha256Hex(data),
    })),
    createdAt: new Date().toISOString(),
    metadata: options.metadata ?? {},
  };
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;

  const parent = path.dirname(dir);
  await mkdir(parent, { recursive: true });
  const temp = path.join(parent, `.tmp-${options.version}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(temp);
  try {
    for (const [name, data] of files) await writeFile(path.join(temp, name), data);
    await writeFile(path.join(temp, ARTIFACT_MANIFEST_FILE), manifestText);
    if (await exists(dir)) {
      if (!options.replace) {
        throw new ArtifactError(
          dir,
          'expected no artifact at this version (versions are immutable), found one',
        );
      }
      const aside = `${temp}-replaced`;
      await rename(dir, aside);
      await rm(aside, { recursive: true, force: true });
    }
    await rename(temp, dir);
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
  return { dir, manifest, manifestSha256: sha256Hex(manifestText) };
}

/** Reads and checks every file of an artifact folder; throws ArtifactError naming the bad file. */
export async function readVerifiedArtifact(
  dir: string,
  expectedManifestSha256?: string,
): Promise<{ manifest: ArtifactManifest; manifestSha256: string; files: Map<string, Buffer> }> {
  const manifestFile = path.join(dir, ARTIFACT_MANIFEST_FILE);
  const manifestBytes = await readOrExplain(manifestFile);
  const manifestSha256 = sha256Hex(manifestBytes);
  if (expectedManifestSha256 !== undefined && manifestSha256 !== expectedManifestSha256) {
    throw new ArtifactError(
      manifestFile,
      `expected sha256 ${expectedManifestSha256} as registered, found ${manifestSha256}: the artifact was modified after registration; refusing to load it`,
    );
  }
  let manifest: ArtifactManifest;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as ArtifactManifest;
  } catch (error) {
    throw new ArtifactError(manifestFile, 'expected a JSON artifact manifest, found unparseable text', {
      cause: error,
    });
  }
  if (manifest?.format !== ARTIFACT_FORMAT || !Array.isArray(manifest.files)) {
    throw new ArtifactError(manifestFile, `expected artifact manifest format ${ARTIFACT_FORMAT} with files`);
  }
  for (const entry of manifest.files) {
    const problem = plainNameProblem(entry?.name);
    if (problem !== undefined) {
      throw new ArtifactError(
        manifestFile,
        `lists ${JSON.stringify(entry?.name)}: ${problem}; refusing to load the artifact`,
      );
    }
  }
  const files = new Map<string, Buffer>();
  for (const entry of manifest.files) {
    const file = path.join(dir, entry.name);
    const data = await readOrExplain(file);
    const sum = sha256Hex(data);
    if (data.byteLength !== entry.bytes || sum !== entry.sha256) {
      throw new ArtifactError(
        file,
        `expected ${entry.bytes} bytes with sha256 ${entry.sha256} as the manifest says, found ${data.byteLength} bytes with sha256 ${sum}: the artifact is corrupt or was tampered with; refusing to load it`,
      );
    }
    files.set(entry.name, data);
  }
  for (const required of [MODEL_FILE, WEIGHTS_FILE]) {
    if (!files.has(required))
      throw new ArtifactError(manifestFile, `expected ${required} among the files, found none`);
  }
  return { manifest, manifestSha256, files };
}

/** Verifies, then builds the layers model from memory (no second read of the files). */
export async function loadModelArtifact(
  dir: string,
  expectedManifestSha256?: string,
): Promise<LoadedArtifact> {
  const { manifest, manifestSha256, files } = await readVerifiedArtifact(dir, expectedManifestSha256);
  const modelFile = path.join(dir, MODEL_FILE);
  let modelJson: tf.io.ModelJSON;
  try {
    modelJson = JSON.parse((files.get(MODEL_FILE) as Buffer).toString('utf8')) as tf.io.ModelJSON;
  } catch (error) {
    throw new ArtifactError(modelFile, 'expected TF.js model JSON, found unparseable text', { cause: error });
  }
  const weights = files.get(WEIGHTS_FILE) as Buffer;
  // A copy into a plain ArrayBuffer: a Buffer may be a view into Node's shared pool.
  const weightData = new Uint8Array(weights).buffer as ArrayBuffer;
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifests) => [
    manifests.flatMap((group) => group.weights),
    weightData,
  ]);
  let model: tfl.LayersModel;
  try {
    model = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (error) {
    throw new ArtifactError(modelFile, `could not build the model: ${String(error)}`, { cause: error });
  }
  const extras: Record<string, string> = {};
  for (const [name, data] of files) {
    if (name !== MODEL_FILE && name !== WEIGHTS_FILE) extras[name] = data.toString('utf8');
  }
  return { dir, model, manifest, manifestSha256, extras };
}

async function readOrExplain(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ArtifactError(file, 'expected this artifact file, found it missing', { cause: error });
    }
    throw error;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
