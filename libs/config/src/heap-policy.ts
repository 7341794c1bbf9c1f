import { setFlagsFromString } from 'node:v8';

/** The old generation may grow to this much more than what survived the last full collection. */
export const HEAP_GROWING_PERCENT = 20;

/** The young generation's semi-space cap, in MiB, that the launchers start every app with. */
export const MAX_SEMI_SPACE_MB = 8;

/** The node arguments an app is started with (what the Dockerfile and `scripts/run-system.sh` pass too). */
export function appNodeArgs(): string[] {
  return [`--max-semi-space-size=${MAX_SEMI_SPACE_MB}`];
}

/**
 * The apps' memory policy: short-lived garbage is collected where it is made, instead of the heap
 * growing to several times what is alive.
 *
 * Under load much of what a pipeline allocates lives just long enough to survive a young
 * collection (records waiting for a confirm or a flush) and dies soon after in the old
 * generation. By default V8 lets the old generation grow to up to four times what survived the
 * last full collection before collecting it again, and Node 24 lets each semi-space of the young
 * generation grow to 64 MiB: a filter under a burst of new sources grew by 290 MB, most of it
 * dead. With the old generation collected at 1.2 times its live size and the semi-spaces capped at
 * {@link MAX_SEMI_SPACE_MB} MiB, the same burst grows it by about 45 MB (`npm run attack`); the
 * cost is more frequent, smaller collections.
 *
 * The growing factor is set here, at start-up (V8 reads it whenever it sizes the heap); the
 * semi-space size can only be given on the command line, so the launchers (Dockerfile,
 * `scripts/run-system.sh`, `scripts/kit/app-process.ts` for the tests and harnesses) pass
 * {@link appNodeArgs}. An operator's own `--heap-growing-percent` on the command line wins.
 */
export function applyHeapPolicy(execArgv: readonly string[] = process.execArgv): void {
  if (execArgv.some((arg) => /^--heap[-_]growing[-_]percent\b/.test(arg))) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
