// Bit rot on demand, for the tests of what reads refuse.
import { open } from 'node:fs/promises';

/** Flips the bits of `mask` in the byte at `offset` of `file`, in place. */
export async function flipBit(file: string, offset: number, mask: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, offset);
    byte[0] = (byte[0] as number) ^ mask;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}
