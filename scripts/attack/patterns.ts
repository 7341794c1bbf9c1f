/** The hostile patterns of `npm run attack`, each run against a fresh filter while a valid generator streams. */
export const PATTERNS = {
  'slow-reader': 'clients that never read their answers and send frames of 1000 invalid records',
  'deep-and-maximal': 'frames nested 1 MiB deep, and maximal 1 MiB frames of 1000 padded invalid records',
  'connection-flood': 'as many /ingest connections as it can open, held idle, with 503s retried at once',
  'tail-flood': '/tail subscribers (with the admin token) that never read, retried at once when refused',
  'distinct-sources': 'valid records from distinct sources (1,000,000 by default over the run)',
  'frame-flood': 'one valid record a frame on 4 connections, each at 90 % of its frame allowance',
} as const;

export type PatternName = keyof typeof PATTERNS;

export const PATTERN_NAMES = Object.keys(PATTERNS) as PatternName[];

/** What the attacker process is told (argv[2] as JSON). */
export interface AttackerOptions {
  readonly pattern: PatternName;
  readonly port: number;
  readonly ingestToken: string;
  readonly adminToken: string;
  /** distinct-sources: how many sources to send over `seconds`. */
  readonly sources: number;
  readonly seconds: number;
  /** frame-flood: the filter's INGEST_MAX_FRAMES_PER_SECOND (each connection stays just under it). */
  readonly maxFramesPerSecond: number;
}

/** What the attacker process prints as its last stdout line (JSON). */
export interface AttackerStats {
  readonly framesSent: number;
  readonly bytesSent: number;
  readonly connectionsOpened: number;
  readonly connectionsRefused: number;
  readonly connectionsClosedByFilter: number;
  readonly closeCodes: Record<string, number>;
  readonly answers: Record<string, number>;
  readonly recordsAcked: number;
}
