import type { DataRecord } from './data-record';

/** WebSocket protocol of CONTRACT.md §4. */
export const INGEST_PATH = '/ingest';
export const MAX_RECORDS_PER_FRAME = 1000;
/** Frames above this size close the connection with {@link WS_CLOSE_MESSAGE_TOO_BIG}. */
export const MAX_FRAME_BYTES = 1024 * 1024;

export const WS_CLOSE_NORMAL = 1000;
export const WS_CLOSE_GOING_AWAY = 1001;
export const WS_CLOSE_UNSUPPORTED_DATA = 1003;
export const WS_CLOSE_POLICY_VIOLATION = 1008;
export const WS_CLOSE_MESSAGE_TOO_BIG = 1009;
/** The filter cannot hand records on right now; the sender should back off and resend. */
export const WS_CLOSE_TRY_AGAIN_LATER = 1013;

export const RECORDS_EVENT = 'records';
export const ACK_EVENT = 'ack';
export const ERROR_EVENT = 'error';

export const INGEST_ERROR_CODES = [
  'INVALID_JSON',
  'INVALID_ENVELOPE',
  'INVALID_RECORD',
  'HASH_MISMATCH',
  'RATE_LIMITED',
] as const;
export type IngestErrorCode = (typeof INGEST_ERROR_CODES)[number];

export interface RecordsFrame {
  readonly event: typeof RECORDS_EVENT;
  readonly data: readonly DataRecord[];
}

export interface AckPayload {
  readonly source: string;
  readonly seqs: readonly number[];
}

export interface ErrorPayload {
  readonly code: IngestErrorCode;
  readonly message: string;
  readonly source?: string;
  readonly seq?: number;
  /**
   * Record-level refusals only: how many records of the frame were refused. One error frame
   * answers every refused record of a frame; `code`, `message`, `source` and `seq` are those of
   * the first one.
   */
  readonly count?: number;
  /** Record-level refusals only: every refused record whose source and seq are known, grouped. */
  readonly refused?: readonly RefusedRecords[];
}

/** Refused records of one frame with the same code and source, `seqs` in frame order. */
export interface RefusedRecords {
  readonly code: IngestErrorCode;
  readonly source: string;
  readonly seqs: readonly number[];
}

export interface AckFrame {
  readonly event: typeof ACK_EVENT;
  readonly data: AckPayload;
}

export interface ErrorFrame {
  readonly event: typeof ERROR_EVENT;
  readonly data: ErrorPayload;
}

export type FilterToSenderFrame = AckFrame | ErrorFrame;
