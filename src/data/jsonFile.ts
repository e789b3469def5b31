import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DataError } from '../errors.ts';

/**
 * The JSON files a dataset keeps beside its data (partition manifests, the dataset contract):
 * read as unknown for the caller to check, written through a hidden temporary file and a
 * rename so that a reader never sees half a file.
 */

/** The parsed file; undefined when there is none. `what` names the expected content in errors. */
export async function readJsonFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DataError(`${file}: expected ${what}, found unparseable text`, { cause: error });
  }
}

export async function writeJsonFileAtomically(file: string, value: unknown): Promise<void> {
  const temp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  try {
    await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`);
    await rename(temp, file);
  } finally {
    await rm(temp, { force: true });
  }
}
