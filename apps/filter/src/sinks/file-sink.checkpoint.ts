import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What the file sink knew after its last successful flush: each recently written file's size and
 * the highest `seq` per source. Only an optimisation for start-up (files are scanned from the
 * recorded sizes instead of from the start); the data files stay the truth.
 */
export interface Checkpoint {
  readonly writtenAt: number;
  readonly files: Record<string, number>;
  readonly handedOn: Record<string, number>;
}

export const CHECKPOINT_FILE = '.checkpoint.json';

export async function readCheckpoint(dir: string): Promise<Checkpoint | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, CHECKPOINT_FILE), 'utf8')) as Partial<Checkpoint>;
    if (typeof parsed.writtenAt !== 'number' || !isNumberMap(parsed.files) || !isNumberMap(parsed.handedOn)) {
      return undefined;
    }
    return { writtenAt: parsed.writtenAt, files: parsed.files, handedOn: parsed.handedOn };
  } catch {
    return undefined;
  }
}

/** Atomic replace (write temp, rename); no fsync: a stale checkpoint only means a longer scan. */
export async function writeCheckpoint(dir: string, checkpoint: Checkpoint): Promise<void> {
  const target = join(dir, CHECKPOINT_FILE);
  const temp = `${target}.tmp`;
  await writeFile(temp, JSON.stringify(checkpoint));
  await rename(temp, target);
}

function isNumberMap(value: unknown): value is Record<string, number> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value).every((v) => typeof v === 'number' && Number.isFinite(v))
  );
}
