import { readFileSync } from 'node:fs';
import { StartupError } from '@dataflow/config';

/**
 * Reads the reserved `seq` high-water mark: exactly what SeqStore writes, decimal digits and a
 * newline (0 when the file does not exist yet). Anything else (empty, blank, `0x1F`, `1e4`, `+5`,
 * ` 7`) means the file was damaged or edited; guessing could reuse seqs that the filter would then
 * drop as duplicates, so it throws a one-line {@link StartupError} naming the file instead.
 */
export function readSeqFile(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 0;
    throw new StartupError(`cannot read seq file ${file}: ${code ?? String(error)}`);
  }
  const value = Number(text.replace(/\n$/, ''));
  if (!/^(0|[1-9][0-9]*)\n?$/.test(text) || !Number.isSafeInteger(value)) {
    throw new StartupError(
      `corrupt seq file ${file}: expected the decimal number the generator wrote, found ` +
        `${JSON.stringify(text.slice(0, 40))}; refusing to guess the next seq (restore the file, or remove it ` +
        'only if no record of this GENERATOR_ID was ever stored)',
    );
  }
  return value;
}

/** Why the seq file cannot be used, for the configuration check at start; undefined if it can. */
export function seqFileProblem(file: string): string | undefined {
  try {
    readSeqFile(file);
    return undefined;
  } catch (error) {
    return error instanceof StartupError ? error.message : String(error);
  }
}
