// Reads a tutorial's own files and commands out of its Markdown, so a test can run exactly what
// the document tells a user to do.

/** A fenced block: ```ts file=pipelines/x/model.ts, or ```sh for commands. */
export interface FencedBlock {
  language: string;
  /** The `file=` attribute of the info string: where the user saves the block. */
  file?: string;
  body: string;
}

export function fencedBlocks(markdown: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  const pattern = /^```([^\n]*)\n([\s\S]*?)^```$/gm;
  for (const match of markdown.matchAll(pattern)) {
    const info = (match[1] ?? '').trim().split(/\s+/);
    const file = info.find((word) => word.startsWith('file='))?.slice('file='.length);
    blocks.push({ language: info[0] ?? '', ...(file ? { file } : {}), body: match[2] ?? '' });
  }
  return blocks;
}

/** The commands of a shell block: one a line, comments and blank lines left out, `\` joins lines. */
export function shellCommands(body: string): string[] {
  const joined = body.replace(/\\\n\s*/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Splits a command line into words as a POSIX shell would for plain and quoted words (no expansions). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let quote: '"' | "'" | undefined;
  let inWord = false;
  for (const char of line) {
    if (quote) {
      if (char === quote) quote = undefined;
      else current += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += char;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} in: ${line}`);
  if (inWord) words.push(current);
  return words;
}
