/**
 * Names a manifest lists (a partition's Parquet files, an artifact's files, a predictions
 * folder's shards) are plain names inside the manifest's own folder: no separator, no `..`, no
 * absolute path. A name that is anything else would let a crafted or damaged manifest make a
 * reader open a file elsewhere (another day's partition, /etc/passwd) under the sums it lists.
 */

/** Why `name` is not a plain file name, or undefined when it is one. */
export function plainNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `expected a file name, found ${typeof name}`;
  if (name === '') return 'expected a file name, found an empty one';
  if (name === '.' || name === '..') return `expected a file name, found '${name}'`;
  if (/[/\\]/.test(name)) return `expected a plain file name inside the folder, found a path '${name}'`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  if (/[\u0000-\u001f]/.test(name))
    return `expected a plain file name, found control characters in ${JSON.stringify(name)}`;
  return undefined;
}
