import { z } from 'zod';
import { commonEnv, integer, optionalInteger, rabbitEnv } from '@dataflow/config';
import { MAX_PARTITIONS } from '@dataflow/contracts';
import { checkHeldBound, DEFAULT_MAX_HELD_RECORDS } from './held-records';

/** The variables every writer has, each under its prefix (`DB_WRITER_BATCH_SIZE`, `MONGO_WRITER_BATCH_SIZE`). */
const WRITER_VARIABLES = {
  /** Unacknowledged messages the broker may push; unset: derived from MAX_HELD_RECORDS (prefetchFor). */
  PREFETCH: optionalInteger(1, 65_535),
  /** The most records held unacknowledged: prefetch × the largest message must fit. */
  MAX_HELD_RECORDS: integer(DEFAULT_MAX_HELD_RECORDS, 10_000, 100_000_000),
  /** Records per write, and the longest a partly filled batch waits. */
  BATCH_SIZE: integer(1000, 1, 10_000),
  BATCH_MS: integer(10, 1, 60_000),
  BREAKER_FAILURES: integer(5, 1, 1000),
  BREAKER_HALF_OPEN_MS: integer(5_000, 100, 600_000),
  RETRY_MAX_MS: integer(10_000, 100, 600_000),
  /** A file to append each write's commit time to, for exact latencies (see CommitLog); unset: none. */
  COMMIT_LOG: z.string().min(1).optional(),
  /**
   * This writer's place among the writers of its sink (the StatefulSet ordinal) and their number:
   * it subscribes first to the partitions p with p mod REPLICAS = ORDINAL and to the others a few
   * seconds later, as a standby, which spreads the partitions' active consumers over the writers.
   * Unset ordinal: every partition at once.
   */
  ORDINAL: optionalInteger(0, MAX_PARTITIONS - 1),
  REPLICAS: integer(1, 1, MAX_PARTITIONS),
  /**
   * With an ordinal: how often a writer hands one partition it does not prefer back to the line of
   * its consumers, once all REPLICAS writers are subscribed (RabbitMQ 3.x keeps the first subscriber
   * active, so this is what rebalances after a restart), in ms.
   */
  REBALANCE_MS: integer(30_000, 1000, 3_600_000),
};

type Variables = typeof WRITER_VARIABLES;
export type WriterVariable = keyof Variables;
export type PrefixedWriterVariables<P extends string> = {
  [K in WriterVariable as `${P}_${K}`]: Variables[K];
};
/** A writer's values of the shared variables, by their unprefixed names. */
export type WriterValues = { readonly [K in WriterVariable]: z.output<Variables[K]> };

/** The shared variables under `prefix`, to spread into the writer's environment schema. */
export function writerVariables<P extends string>(prefix: P): PrefixedWriterVariables<P> {
  const entries = Object.entries(WRITER_VARIABLES).map(([name, schema]) => [`${prefix}_${name}`, schema]);
  return Object.fromEntries(entries) as PrefixedWriterVariables<P>;
}

/** The shared values of a writer, read through `get` (its validated configuration). */
export function writerValues(prefix: string, get: (name: string) => unknown): WriterValues {
  const entries = Object.keys(WRITER_VARIABLES).map((name) => [name, get(`${prefix}_${name}`)]);
  return Object.fromEntries(entries) as WriterValues;
}

/** The check every writer's schema adds: an explicit prefetch must fit the held bound. */
export function checkWriterBound(prefix: string) {
  return (env: Record<string, unknown>, context: z.RefinementCtx): void => {
    const values = writerValues(prefix, (name) => env[name]);
    checkHeldBound(
      { name: `${prefix}_PREFETCH`, value: values.PREFETCH },
      { name: `${prefix}_MAX_HELD_RECORDS`, value: values.MAX_HELD_RECORDS },
      context,
    );
    if (values.ORDINAL !== undefined && values.ORDINAL >= values.REPLICAS) {
      context.addIssue({
        code: 'custom',
        path: [`${prefix}_ORDINAL`],
        message: `must be below ${prefix}_REPLICAS (${values.REPLICAS}): ordinals count from 0`,
      });
    }
  };
}

/**
 * A writer's environment schema: the common and RabbitMQ variables, the shared writer variables
 * under `prefix`, the writer's own variables, and the check that an explicit prefetch fits the
 * held bound.
 */
export function writerEnv<P extends string, S extends z.ZodRawShape>(prefix: P, own: S) {
  return z
    .object({ ...commonEnv, ...rabbitEnv, ...writerVariables(prefix), ...own })
    .superRefine(checkWriterBound(prefix));
}
