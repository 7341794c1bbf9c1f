import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isSinkFileName } from '@dataflow/contracts';
import type { Checkpoint } from './file-sink.checkpoint';
import { HeldSeqs } from './held-seqs';

export interface RecoveredState {
  /** What the files hold per source (see HeldSeqs). */
  readonly held: HeldSeqs;
  /** Every sink file's size after repair, and when it was last written. */
  readonly files: Map<string, { size: number; mtimeMs: number }>;
  readonly repairedFiles: string[];
  readonly scannedBytes: number;
  readonly unreadableLines: number;
}

/** Chunk size for scanning; lines are ~100 bytes so a chunk holds thousands. */
const CHUNK = 1024 * 1024;

/**
 * Rebuilds the sink's state from its directory. A file written after the checkpoint is scanned
 * from the size the checkpoint recorded (or whole, if it is new), so start-up work is bounded by
 * what the last run wrote since its last flush. A last line without its newline is a write that a
 * crash cut short: it is truncated away (its record was never acknowledged, the sender resends it).
 *
 * With a checkpoint, every scanned record above its source's floor is held exactly (a crash may have
 * cut a flush between two files: what reached one file is held, what did not is not). Without one,
 * the files are scanned whole and the highest seq per source counts as held by the files.
 */
export async function recoverFileSink(dir: string, checkpoint: Checkpoint | undefined): Promise<RecoveredState> {
  const held = new HeldSeqs();
  for (const [source, state] of Object.entries(checkpoint?.sources ?? {})) held.restore(source, state);
  const note = checkpoint
    ? (source: string, seq: number) => held.add(source, [seq])
    : (source: string, seq: number) => held.scanned(source, seq);
  const files = new Map<string, { size: number; mtimeMs: number }>();
  const repairedFiles: string[] = [];
  let scannedBytes = 0;
  let unreadableLines = 0;

  const names = (await readdir(dir)).filter(isSinkFileName).sort();
  for (const name of names) {
    const path = join(dir, name);
    const info = await stat(path);
    const recorded = checkpoint?.files[name];
    // A second of margin: a write in the same instant as the checkpoint must still be scanned.
    const untouched = checkpoint !== undefined && recorded === undefined && info.mtimeMs < checkpoint.writtenAt - 1000;
    if (untouched || recorded === info.size) {
      files.set(name, { size: info.size, mtimeMs: info.mtimeMs });
      continue;
    }
    const from = recorded !== undefined && recorded <= info.size ? recorded : 0;
    const result = await scanAndRepair(path, from, info.size, note);
    scannedBytes += info.size - from;
    unreadableLines += result.unreadable;
    if (result.repaired) repairedFiles.push(name);
    files.set(name, { size: result.completeUpTo, mtimeMs: info.mtimeMs });
  }
  return { held, files, repairedFiles, scannedBytes, unreadableLines };
}

/**
 * Scans `path` from byte `from` to `size` (see {@link scanFile}) and truncates a torn last line away
 * (a write a crash cut short: its record was never acknowledged).
 */
export async function scanAndRepair(
  path: string,
  from: number,
  size: number,
  note: (source: string, seq: number) => void,
): Promise<{ completeUpTo: number; unreadable: number; repaired: boolean }> {
  const result = await scanFile(path, from, size, note);
  const repaired = result.completeUpTo < size;
  if (repaired) {
    const handle = await open(path, 'r+');
    try {
      await handle.truncate(result.completeUpTo);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }
  return { ...result, repaired };
}

/**
 * Reads the complete lines of `path` from byte `from` to `size`, calling `note` with the source and
 * seq of each record; returns where the last complete line ends (a torn tail starts there) and how
 * many lines were not records.
 */
export async function scanFile(
  path: string,
  from: number,
  size: number,
  note: (source: string, seq: number) => void,
): Promise<{ completeUpTo: number; unreadable: number }> {
  const handle = await open(path, 'r');
  let completeUpTo = from;
  let unreadable = 0;
  // Byte arithmetic throughout: a torn tail may be cut inside a multi-byte character, and decoding
  // it first would change its length.
  let carry = Buffer.alloc(0);
  try {
    let position = from;
    while (position < size) {
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK, size - position));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      position += bytesRead;
      const chunk =
        carry.length > 0 ? Buffer.concat([carry, buffer.subarray(0, bytesRead)]) : buffer.subarray(0, bytesRead);
      const lastNewline = chunk.lastIndexOf(0x0a);
      if (lastNewline === -1) {
        carry = chunk;
        continue;
      }
      for (const line of chunk.toString('utf8', 0, lastNewline).split('\n')) {
        if (line.length > 0 && !noteRecord(line, note)) unreadable++;
      }
      carry = Buffer.from(chunk.subarray(lastNewline + 1));
      completeUpTo = position - carry.length;
    }
  } finally {
    await handle.close();
  }
  return { completeUpTo, unreadable };
}

function noteRecord(line: string, note: (source: string, seq: number) => void): boolean {
  try {
    const { source, seq } = JSON.parse(line) as { source?: unknown; seq?: unknown };
    if (typeof source !== 'string' || typeof seq !== 'number') return false;
    note(source, seq);
    return true;
  } catch {
    return false;
  }
}
