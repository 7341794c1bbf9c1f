/** What a tool prints for an error: its message, or its stack where the whole trace helps. */
export function errorText(error: unknown, withStack = false): string {
  if (!(error instanceof Error)) return String(error);
  return withStack ? (error.stack ?? error.message) : error.message;
}

/** A command-line option's value that must be a positive number. */
export function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`not a positive number: ${value}`);
  return parsed;
}

/**
 * Runs a tool's main function. On SIGINT or SIGTERM, or when main throws, `stop` kills what the
 * tool started and the process exits: 130 after a signal, 1 after an error.
 */
export function runTool(name: string, main: () => Promise<void>, stop: () => void): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      stop();
      process.exit(130);
    });
  }
  main().catch((error: unknown) => {
    stop();
    console.error(`${name}: ${errorText(error, true)}`);
    process.exit(1);
  });
}
