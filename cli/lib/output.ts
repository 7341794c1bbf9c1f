import { SingleBar } from 'cli-progress';

/** Writes to stdout: the command's result. */
export function out(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** Writes to stderr: progress, warnings and notes that are not the result. */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

export function printJson(value: unknown): void {
  out(JSON.stringify(value, jsonReplacer, 2));
}

/** Buffers as base64, bigints as numbers, Dates as ISO text. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer') {
    const data = (value as { data?: unknown }).data;
    if (Array.isArray(data)) return { base64: Buffer.from(data as number[]).toString('base64') };
  }
  return value;
}

/** A plain text table: the first row is the header, numeric-looking cells are right-aligned. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const numeric = (cell: string): boolean => /^-?[\d,.]+%?$/.test(cell) || cell === '-';
  return rows
    .map((row, r) =>
      row
        .map((cell, i) => {
          const width = widths[i] ?? 0;
          return r > 0 && i > 0 && numeric(cell) ? cell.padStart(width) : cell.padEnd(width);
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

export interface Progress {
  start(total: number, label: string): void;
  setTotal(total: number): void;
  increment(by?: number): void;
  update(value: number): void;
  stop(): void;
}

/**
 * A progress bar on stderr while it is a terminal and output is not JSON; otherwise nothing, so
 * scripts and pipes see only the result.
 */
export function progress(enabled: boolean): Progress {
  if (!enabled || !process.stderr.isTTY) {
    return {
      start: () => undefined,
      setTotal: () => undefined,
      increment: () => undefined,
      update: () => undefined,
      stop: () => undefined,
    };
  }
  let bar: SingleBar | undefined;
  return {
    start(total, label) {
      bar?.stop();
      bar = new SingleBar({
        format: `${label.padEnd(18)} [{bar}] {percentage}% {value}/{total} {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
      });
      bar.start(total, 0);
    },
    setTotal: (total) => bar?.setTotal(total),
    increment: (by = 1) => bar?.increment(by),
    update: (value) => bar?.update(value),
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
