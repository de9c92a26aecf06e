import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** What writeFileAtomic accepts: bytes, text (UTF-8), or a sequence of byte chunks written in order. */
export type AtomicWriteData = Uint8Array | string | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * Writes a file so that readers see either the old content or the complete new one, never a
 * torn file: the data goes to a temporary file in the same directory (rename is only atomic
 * within one file system), is fsynced, then renamed over the target. On any failure the
 * temporary file is removed and the old file is left as it was.
 *
 * @example
 * await writeFileAtomic('out/adapter_config.json', JSON.stringify(config));
 */
export async function writeFileAtomic(path: string, data: AtomicWriteData): Promise<void> {
  const directory = dirname(path);
  const temporary = join(directory, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx');
  try {
    try {
      for await (const chunk of chunksOf(data)) {
        let written = 0;
        while (written < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, written, chunk.length - written);
          written += bytesWritten;
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await syncDirectory(directory);
}

async function* chunksOf(data: AtomicWriteData): AsyncIterable<Uint8Array> {
  if (typeof data === 'string') yield new TextEncoder().encode(data);
  else if (data instanceof Uint8Array) yield data;
  else yield* data;
}

/** Makes the rename itself durable. Some platforms (Windows) cannot open a directory: best effort. */
async function syncDirectory(directory: string): Promise<void> {
  try {
    const handle = await open(directory, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The file content is already synced; only the directory entry's durability is not guaranteed.
  }
}
