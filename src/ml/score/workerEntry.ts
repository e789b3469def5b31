import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childLogger } from '../../log.ts';

/**
 * The scoring worker threads run plain JavaScript: `worker.ts` and the sources it imports,
 * bundled by esbuild (a dependency; tsx uses the same one) into one CommonJS file, with packages
 * left to `require`. Measured here, a worker that loaded tsx and transpiled its TypeScript took
 * 850-970 ms to load the model (1,400 ms for two at once); from the bundle, 225-400 ms. CommonJS
 * because Node's ESM loader scans big CommonJS packages (TF.js) for their named exports, which
 * cost another 130 ms. The bundle is cached in `node_modules/.cache/nightshift/`, keyed by the
 * sha256 of every source file in it, and rebuilt (in 50 ms) when one of them changes.
 */

const SOURCE = fileURLToPath(new URL('./worker.ts', import.meta.url));
const ROOT = path.resolve(path.dirname(SOURCE), '..', '..', '..');
const CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 'nightshift');
const RECORD = 'score-worker.json';

/** What the cache records of the last build: the bundle's file name and its inputs' sums. */
interface BuildRecord {
  format: 1;
  /** The bundle names its sources by absolute path: a moved checkout builds anew. */
  source: string;
  bundle: string;
  /** Project-relative source path to its sha256. */
  inputs: Record<string, string>;
}

let entry: Promise<string> | undefined;

/** The absolute path of the bundled worker, built at the first call of the process if stale. */
export function scoringWorkerEntry(): Promise<string> {
  entry ??= cachedOrBuilt().catch((error: unknown) => {
    entry = undefined;
    throw error;
  });
  return entry;
}

async function cachedOrBuilt(): Promise<string> {
  const record = await readRecord();
  if (record !== undefined && (await unchanged(record))) return path.join(CACHE_DIR, record.bundle);
  try {
    return await build(CACHE_DIR);
  } catch (error) {
    // node_modules may be read-only (an installed app): a private folder of this process instead.
    childLogger({ component: 'score-pool' }).warn(
      { error: String(error), cache: CACHE_DIR },
      'cannot cache the scoring worker bundle; building it in a temporary folder',
    );
    return build(await mkdtemp(path.join(os.tmpdir(), 'nightshift-worker-')), false);
  }
}

async function readRecord(): Promise<BuildRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(path.join(CACHE_DIR, RECORD), 'utf8')) as BuildRecord;
    return record.format === 1 && record.source === SOURCE && typeof record.bundle === 'string'
      ? record
      : undefined;
  } catch {
    return undefined;
  }
}

async function unchanged(record: BuildRecord): Promise<boolean> {
  for (const [input, sum] of Object.entries(record.inputs)) {
    const content = await readFile(path.join(ROOT, input)).catch(() => undefined);
    if (content === undefined || sha256(content) !== sum) return false;
  }
  return readFile(path.join(CACHE_DIR, record.bundle)).then(
    () => true,
    () => false,
  );
}

async function build(dir: string, cache = true): Promise<string> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [SOURCE],
    absWorkingDir: ROOT,
    bundle: true,
    packages: 'external',
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    write: false,
    metafile: true,
    logLevel: 'silent',
    // Packages resolve from the sources' folder, and import.meta.url is the source's URL, as
    // when the TypeScript runs directly: the bundle works wherever it is written.
    banner: {
      js: [
        `const __nightshiftSource = ${JSON.stringify(SOURCE)};`,
        `const __nightshiftSourceUrl = require('node:url').pathToFileURL(__nightshiftSource).href;`,
        `require = require('node:module').createRequire(__nightshiftSource);`,
      ].join('\n'),
    },
    define: { 'import.meta.url': '__nightshiftSourceUrl' },
  });
  const code = result.outputFiles[0]?.contents;
  if (code === undefined) throw new Error('esbuild produced no output for the scoring worker');
  const inputs: Record<string, string> = {};
  for (const input of Object.keys(result.metafile.inputs).sort()) {
    inputs[input] = sha256(await readFile(path.join(ROOT, input)));
  }
  const key = sha256(Buffer.from(JSON.stringify({ source: SOURCE, inputs }))).slice(0, 16);
  const bundle = `score-worker-${key}.cjs`;
  await mkdir(dir, { recursive: true });
  // Temporary names, then renames: a concurrent process never loads half a file.
  const temp = `.${bundle}.${process.pid}.tmp`;
  await writeFile(path.join(dir, temp), code);
  await rename(path.join(dir, temp), path.join(dir, bundle));
  if (cache) {
    await removeOldBundles(dir, bundle);
    const record: BuildRecord = { format: 1, source: SOURCE, bundle, inputs };
    await writeFile(path.join(dir, `${RECORD}.${process.pid}.tmp`), `${JSON.stringify(record, null, 2)}\n`);
    await rename(path.join(dir, `${RECORD}.${process.pid}.tmp`), path.join(dir, RECORD));
  }
  return path.join(dir, bundle);
}

/** Bundles of older sources, once no process can still be about to load them (an hour on). */
async function removeOldBundles(dir: string, current: string): Promise<void> {
  const hourAgo = Date.now() - 3_600_000;
  for (const name of await readdir(dir).catch(() => [])) {
    if (name === current || !/^score-worker-[0-9a-f]+\.cjs$/.test(name)) continue;
    const file = path.join(dir, name);
    const modified = await stat(file).then(
      (info) => info.mtimeMs,
      () => Date.now(),
    );
    if (modified < hourAgo) await rm(file, { force: true });
  }
}

function sha256(content: Buffer | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}
