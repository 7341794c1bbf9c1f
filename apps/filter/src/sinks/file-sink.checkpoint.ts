import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HeldState } from './held-seqs';

/**
 * What the file sink knew at one moment: each recently written file's size (start-up scans only
 * what was written after it) and, per source, its floor and the seqs above it the files held.
 * Both are taken together, so they agree: every record the files held up to those sizes is at or
 * below its source's floor or listed above it.
 */
export interface Checkpoint {
  readonly writtenAt: number;
  readonly files: Record<string, number>;
  readonly sources: Record<string, HeldState>;
}

export const CHECKPOINT_FILE = '.checkpoint.json';
const VERSION = 2;

export async function readCheckpoint(dir: string): Promise<Checkpoint | undefined> {
  try {
    return parseCheckpoint(JSON.parse(await readFile(join(dir, CHECKPOINT_FILE), 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * Atomic replace (write temp, rename); no fsync: a stale checkpoint only means a longer scan (and the
 * floors of sources evicted since come back from the floor store on their first use).
 */
export async function writeCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  const target = join(dir, CHECKPOINT_FILE);
  const temp = `${target}.tmp`;
  await writeFile(temp, JSON.stringify({ version: VERSION, ...checkpoint }));
  await rename(temp, target);
}

function parseCheckpoint(value: unknown): Checkpoint | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const parsed = value as {
    version?: unknown;
    writtenAt?: unknown;
    files?: unknown;
    sources?: unknown;
    handedOn?: unknown;
  };
  if (typeof parsed.writtenAt !== 'number' || !isNumberMap(parsed.files)) return undefined;
  if (parsed.version === VERSION) {
    if (!isHeldMap(parsed.sources)) return undefined;
    return { writtenAt: parsed.writtenAt, files: parsed.files, sources: parsed.sources };
  }
  // Written by a version that kept only the highest seq per source in the files: that much is
  // held by the files, nothing is known to be handed on everywhere.
  if (parsed.version === undefined && isNumberMap(parsed.handedOn)) {
    const sources: Record<string, HeldState> = {};
    for (const [source, seq] of Object.entries(parsed.handedOn)) sources[source] = { floor: 0, scannedMax: seq };
    return { writtenAt: parsed.writtenAt, files: parsed.files, sources };
  }
  return undefined;
}

function isNumberMap(value: unknown): value is Record<string, number> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value).every((v) => typeof v === 'number' && Number.isFinite(v))
  );
}

function isHeldMap(value: unknown): value is Record<string, HeldState> {
  if (typeof value !== 'object' || value === null) return false;
  return Object.values(value).every((entry) => {
    if (typeof entry !== 'object' || entry === null) return false;
    const { floor, above, scannedMax } = entry as { floor?: unknown; above?: unknown; scannedMax?: unknown };
    return (
      typeof floor === 'number' &&
      Number.isSafeInteger(floor) &&
      (above === undefined || (Array.isArray(above) && above.every((seq) => Number.isSafeInteger(seq)))) &&
      (scannedMax === undefined || Number.isSafeInteger(scannedMax))
    );
  });
}
