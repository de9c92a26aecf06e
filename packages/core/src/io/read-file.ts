import { readFile } from 'node:fs/promises';
import { PeftError } from '../errors/peft-error';

/**
 * Reads a file's bytes; a missing file is a PeftError('invalid-argument') naming the path
 * (what to look for), other I/O errors pass through.
 */
export async function readFileBytes(path: string, what = 'file'): Promise<Uint8Array> {
  try {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PeftError('invalid-argument', `No ${what} at ${path}.`, { field: 'path', value: path, allowed: `an existing ${what}`, cause: error });
    }
    throw error;
  }
}
