import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** Descriptors kept open: records arrive for the current hour, rarely for older ones. */
const MAX_OPEN_FILES = 4;

interface SinkFile {
  /** Open while the file is in use; idle files are closed but their state is kept. */
  handle: FileHandle | undefined;
  /** Bytes known to hold only complete lines of successful flushes (moved only when a whole flush succeeded). */
  size: number;
  lastWrite: number;
}

/** What one flush wrote: each file's size once it is committed. */
export type Written = ReadonlyArray<readonly [SinkFile, number]>;

/**
 * The file sink's hour files: each one's last good size, and a few open descriptors. A write is all
 * or nothing across files and moves no size until the caller commits it, so a failed write leaves
 * every file as it was (truncated back to its good size).
 */
export class SinkFiles {
  private readonly files = new Map<string, SinkFile>();

  constructor(
    private readonly dir: string,
    private readonly fsync: boolean,
  ) {}

  /** A file found at start-up, with its good size. */
  known(name: string, size: number, lastWrite: number): void {
    this.files.set(name, { handle: undefined, size, lastWrite });
  }

  /**
   * Appends `chunks` (lines by file name) past each file's good size, fdatasync'ed if configured;
   * on any failure takes back what it wrote to every file, and throws.
   */
  async write(chunks: ReadonlyMap<string, readonly string[]>): Promise<Written> {
    const written: Array<[SinkFile, FileHandle, number]> = [];
    try {
      for (const [name, lines] of chunks) {
        const [file, handle] = await this.open(name);
        const data = Buffer.from(lines.join(''), 'utf8');
        await restore(file.size, handle); // a failed flush before may have left bytes past the good size
        written.push([file, handle, file.size + data.length]);
        let offset = 0;
        while (offset < data.length) {
          const { bytesWritten } = await handle.write(data, offset, data.length - offset, file.size + offset);
          offset += bytesWritten;
        }
        if (this.fsync) await handle.datasync();
      }
    } catch (error) {
      for (const [file, handle] of written) await restore(file.size, handle).catch(() => undefined);
      throw error;
    }
    return written.map(([file, , size]) => [file, size] as const);
  }

  /** The files of a write now hold its lines for good. */
  commit(written: Written): void {
    const now = Date.now();
    for (const [file, size] of written) {
      file.size = size;
      file.lastWrite = now;
    }
  }

  /** Good sizes of the files written within the last `horizonMs` (for the checkpoint). */
  recentSizes(horizonMs: number): Record<string, number> {
    const now = Date.now();
    const sizes: Record<string, number> = {};
    for (const [name, file] of this.files) if (now - file.lastWrite < horizonMs) sizes[name] = file.size;
    return sizes;
  }

  async closeAll(): Promise<void> {
    for (const file of this.files.values()) {
      await file.handle?.close().catch(() => undefined);
      file.handle = undefined;
    }
  }

  private async open(name: string): Promise<[SinkFile, FileHandle]> {
    let file = this.files.get(name);
    if (file?.handle) return [file, file.handle];
    // Positioned writes rather than O_APPEND, so that a failed write can be truncated away.
    const handle = await open(join(this.dir, name), constants.O_RDWR | constants.O_CREAT, 0o644);
    if (!file) {
      file = { handle, size: (await handle.stat()).size, lastWrite: Date.now() };
      this.files.set(name, file);
    }
    file.handle = handle;
    file.lastWrite = Date.now(); // most recently used: never the one closeIdle picks
    this.closeIdle();
    return [file, handle];
  }

  private closeIdle(): void {
    const open = [...this.files.values()].filter((file) => file.handle !== undefined);
    if (open.length <= MAX_OPEN_FILES) return;
    open.sort((a, b) => a.lastWrite - b.lastWrite);
    for (const file of open.slice(0, open.length - MAX_OPEN_FILES)) {
      void file.handle?.close().catch(() => undefined);
      file.handle = undefined;
    }
  }
}

async function restore(size: number, handle: FileHandle): Promise<void> {
  if ((await handle.stat()).size !== size) await handle.truncate(size);
}
