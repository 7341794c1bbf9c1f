import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { commonEnv, flag, integer, isLoopbackHost, optionalSecret, port, rabbitEnv } from '@dataflow/config';
import { MAX_RANDOM_VALUE } from '@dataflow/contracts';
import { MAX_RECORDS_PER_MESSAGE } from '@dataflow/messaging';
import { parseRuleSet, RuleSetError } from '../routing/rule-set';

export const filterEnv = z
  .object({
    ...commonEnv,
    ...rabbitEnv,
    FILTER_PORT: port(3002),
    /** Records with `randomValue` above this go to RabbitMQ, the others to the file sink. */
    FILTER_THRESHOLD: integer(90, -1, MAX_RANDOM_VALUE),
    /** A JSON rule set (see routing/rule-set.ts) that replaces the threshold rule; reloaded on change. */
    FILTER_RULES_FILE: z
      .string()
      .optional()
      .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim())),
    /** How often the rules file is checked for changes. */
    FILTER_RULES_POLL_MS: integer(1_000, 100, 600_000),
    /** Bearer token for `GET/PUT /rules` and `GET /tail`; required when NODE_ENV=production. */
    FILTER_ADMIN_TOKEN: optionalSecret(),
    FILTER_OUTPUT_DIR: z.string().min(1).default('./data/filtered'),
    /** The file buffer is flushed at least this often (and when it holds FILTER_FLUSH_BYTES). */
    FILTER_FLUSH_INTERVAL_MS: integer(200, 1, 200),
    FILTER_FLUSH_BYTES: integer(1024 * 1024, 1024, 64 * 1024 * 1024),
    /** fdatasync after each flush, so an acknowledged record survives a power loss too. */
    FILTER_FSYNC: flag(true),
    /** A publish the broker has not confirmed within this time fails. */
    FILTER_PUBLISH_TIMEOUT_MS: integer(5_000, 100, 120_000),
    FILTER_BREAKER_FAILURES: integer(3, 1, 1000),
    FILTER_BREAKER_HALF_OPEN_MS: integer(5_000, 100, 600_000),
    /** Records of one source handed on together at most (consecutive frames are coalesced). */
    FILTER_MAX_BATCH: integer(5_000, 1, MAX_RECORDS_PER_MESSAGE),
    /** Sources whose dedupe state is kept in memory; beyond, the least recently used leave it. */
    FILTER_MAX_SOURCES: integer(10_000, 100, 10_000_000),
    /** A source unused this long leaves memory (its floor stays on disk). */
    FILTER_SOURCE_IDLE_MS: integer(600_000, 1_000, 86_400_000),
    /** Bearer token the ingest upgrade must present; required when NODE_ENV=production. */
    INGEST_TOKEN: optionalSecret(),
    INGEST_MAX_CONNECTIONS: integer(64, 1, 100_000),
    /** Records one connection may send per second (one second's burst); beyond it, RATE_LIMITED. */
    INGEST_MAX_RECORDS_PER_SECOND: integer(100_000, 1, 10_000_000),
    /** A connection that sends no complete frame for this long is closed (slow or idle senders). */
    INGEST_IDLE_TIMEOUT_MS: integer(60_000, 1_000, 3_600_000),
    /**
     * Bytes one connection may send per second (one second of burst), counted before parsing; beyond
     * it, RATE_LIMITED. 8 MiB carries about 70,000 records a second, several times what the whole
     * pipeline stores, while parsing 8 maximal frames a second costs a connection under 10 % of a core.
     */
    INGEST_MAX_BYTES_PER_SECOND: integer(8 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    /** Frames one connection may send per second (ten seconds of burst), counted before parsing; beyond it, RATE_LIMITED. */
    INGEST_MAX_FRAMES_PER_SECOND: integer(1_000, 10, 1_000_000),
    /**
     * How long an address may not open ingest connections after one of its connections was closed
     * for abuse (slow reader, too deep, rate limit ignored); doubled per repeat, up to 60 times this.
     * 0: no penalty.
     */
    INGEST_ABUSE_PENALTY_MS: integer(1_000, 0, 600_000),
    /** New ingest connections per second, all clients together (one second of burst); beyond it, HTTP 503. */
    INGEST_MAX_NEW_CONNECTIONS_PER_SECOND: integer(20, 1, 100_000),
    /** Bytes queued to a connection that does not read its acks and errors; beyond it, closed with 1008. */
    INGEST_MAX_SEND_BUFFER_BYTES: integer(1024 * 1024, 16 * 1024, 256 * 1024 * 1024),
    /**
     * Records of one connection waiting for their hand-off (accepted, not yet acknowledged), each
     * waiting frame counted as 16 more and each of its distinct sources as 64; a frame beyond it
     * gets RATE_LIMITED. Above the generator's own window (32 frames of 1000 records).
     */
    INGEST_MAX_PENDING_RECORDS: integer(50_000, 1_000, 10_000_000),
    /** Nesting of a frame's JSON, checked before it is parsed; deeper frames close the connection with 1008. */
    INGEST_MAX_JSON_DEPTH: integer(32, 3, 1000),
    /** Refusal log lines per second at most (every refusal is still counted). */
    INGEST_REFUSAL_LOGS_PER_SECOND: integer(10, 0, 100_000),
    /** Open `GET /tail` streams at most; further requests get HTTP 503. */
    FILTER_TAIL_MAX_CLIENTS: integer(8, 1, 1000),
  })
  .superRefine((env, context) => {
    if (env.NODE_ENV === 'production' && env.INGEST_TOKEN === undefined) {
      context.addIssue({ code: 'custom', path: ['INGEST_TOKEN'], message: 'is required when NODE_ENV=production' });
    }
    if (env.FILTER_RULES_FILE !== undefined) {
      // Checked with the rest of the configuration, so a bad rules file stops the filter with one line.
      const problem = rulesFileProblem(env.FILTER_RULES_FILE);
      if (problem !== undefined) context.addIssue({ code: 'custom', path: ['FILTER_RULES_FILE'], message: problem });
    }
    if (
      env.LISTEN_HOST !== undefined &&
      !isLoopbackHost(env.LISTEN_HOST) &&
      (env.INGEST_TOKEN === undefined || env.FILTER_ADMIN_TOKEN === undefined)
    ) {
      // Without both tokens /ingest, /rules and /tail are open: only this machine may reach them.
      context.addIssue({
        code: 'custom',
        path: ['LISTEN_HOST'],
        message: 'a non-loopback address needs INGEST_TOKEN and FILTER_ADMIN_TOKEN (secure by default)',
      });
    }
    if (env.NODE_ENV === 'production' && env.FILTER_ADMIN_TOKEN === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['FILTER_ADMIN_TOKEN'],
        message: 'is required when NODE_ENV=production',
      });
    }
  });

export type FilterConfig = z.output<typeof filterEnv>;

function rulesFileProblem(file: string): string | undefined {
  try {
    parseRuleSet(readFileSync(file, 'utf8'));
    return undefined;
  } catch (error) {
    if (error instanceof RuleSetError) return error.message;
    return `cannot read it: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  }
}
