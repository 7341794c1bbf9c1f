import { join } from 'node:path';
import { z } from 'zod';
import { commonEnv, decimal, integer, optionalSecret, port, urls } from '@dataflow/config';
import { SOURCE_PATTERN, MAX_RECORDS_PER_FRAME } from '@dataflow/contracts';
import { seqFileProblem } from '../generation/seq-file';

export const generatorEnv = z
  .object({
    ...commonEnv,
    GENERATOR_PORT: port(3001),
    GENERATOR_ID: z.string().regex(SOURCE_PATTERN, 'must match ^[A-Za-z0-9._-]{1,64}$').default('generator-1'),
    /** Records a second. */
    GENERATOR_RATE: decimal(5, 0.001, 1_000_000),
    /** Stop generating after this many records (0: never). For tests and benchmarks. */
    GENERATOR_LIMIT: integer(0, 0),
    /** Where the reserved `seq` high-water mark is kept, so a seq is never reused after a restart. */
    GENERATOR_STATE_DIR: z.string().min(1).default('./data/generator'),
    /** Records per WebSocket frame (at most the protocol's 1000). */
    GENERATOR_FRAME_SIZE: integer(MAX_RECORDS_PER_FRAME, 1, MAX_RECORDS_PER_FRAME),
    /** Generated but unacknowledged records kept in memory; generation pauses when it is full. */
    GENERATOR_MAX_BUFFERED: integer(100_000, 1_000, 10_000_000),
    /** Frames sent and not yet acknowledged. */
    GENERATOR_MAX_FRAMES_IN_FLIGHT: integer(32, 1, 10_000),
    /** A frame not acknowledged within this time counts as a failure of the filter. */
    GENERATOR_ACK_TIMEOUT_MS: integer(10_000, 100, 600_000),
    /** Consecutive failures that open the breaker, and how long it stays open before a trial. */
    GENERATOR_BREAKER_FAILURES: integer(3, 1, 1000),
    GENERATOR_BREAKER_HALF_OPEN_MS: integer(5_000, 100, 600_000),
    /** Reconnection backoff (exponential with jitter). */
    GENERATOR_RECONNECT_MIN_MS: integer(200, 10, 60_000),
    GENERATOR_RECONNECT_MAX_MS: integer(10_000, 100, 600_000),
    /** The filter's `/ingest`, or several filter replicas' separated by commas (tried in turn). */
    FILTER_WS_URL: urls('ws://127.0.0.1:3002/ingest', ['ws:', 'wss:']),
    INGEST_TOKEN: optionalSecret(),
  })
  .superRefine((env, context) => {
    // Checked with the rest of the configuration, so a corrupt seq file stops the generator with
    // one line naming it, before anything starts.
    const problem = seqFileProblem(join(env.GENERATOR_STATE_DIR, `${env.GENERATOR_ID}.seq`));
    if (problem !== undefined) context.addIssue({ code: 'custom', path: ['GENERATOR_STATE_DIR'], message: problem });
  });

export type GeneratorConfig = z.output<typeof generatorEnv>;
