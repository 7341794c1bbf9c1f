import type { ConnectionLimits } from './ingest-connection';

/** What the WebSocket adapter checks before Nest sees a frame (see IngestWsAdapter). */
export interface IngestAdapterOptions {
  readonly token: string | undefined;
  readonly maxConnections: number;
  /** New connections per second, all clients together (INGEST_MAX_NEW_CONNECTIONS_PER_SECOND). */
  readonly maxNewConnectionsPerSecond: number;
  /** Deepest JSON nesting of a frame, checked before parsing (INGEST_MAX_JSON_DEPTH). */
  readonly maxDepth: number;
}

/** What one ingest client may cost (the INGEST_* variables); the app gives them (see filter.module.ts). */
export interface IngestOptions extends IngestAdapterOptions {
  readonly limits: ConnectionLimits;
  /** A connection with no complete frame for this long is closed. */
  readonly idleTimeoutMs: number;
  /** The first bar of an address closed for abuse; repeat offences bar it longer. */
  readonly abusePenaltyMs: number;
}

export const INGEST_OPTIONS = Symbol('INGEST_OPTIONS');
