import {
  computeHash,
  DataRecord,
  MAX_RANDOM_VALUE,
  MAX_TIMESTAMP,
  MIN_RANDOM_VALUE,
  RECORD_FIELDS,
  SOURCE_PATTERN,
} from './data-record';

/** Why a record was refused; `INVALID_RECORD` covers shape, types and ranges, checked before the hash. */
export type RecordErrorCode = 'INVALID_RECORD' | 'HASH_MISMATCH';

export interface RecordRejection {
  readonly ok: false;
  readonly code: RecordErrorCode;
  /** Human-readable, names the field; never echoes the raw payload. */
  readonly message: string;
  /** Short machine label for metrics, e.g. `seq.not_integer`. */
  readonly reason: string;
  readonly source?: string;
  readonly seq?: number;
}

export interface RecordAcceptance {
  readonly ok: true;
  readonly record: DataRecord;
}

export type RecordValidation = RecordAcceptance | RecordRejection;

const FIELD_COUNT = RECORD_FIELDS.length;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/**
 * Validates one record strictly (exactly the five fields, right types and ranges, then the hash).
 * Hand-written rather than schema-driven: it runs for every record on the ingest hot path, must give
 * a named reason per field, and must also report `source`/`seq` when those two are valid so the
 * sender can match the error to its record.
 */
export function validateRecord(value: unknown): RecordValidation {
  if (!isObject(value)) {
    return reject('INVALID_RECORD', 'record.not_object', 'record must be a JSON object');
  }
  const source = typeof value.source === 'string' && SOURCE_PATTERN.test(value.source) ? value.source : undefined;
  const seq = isInteger(value.seq) && value.seq >= 1 ? value.seq : undefined;
  const ids = { source, seq };

  const keys = Object.keys(value);
  for (const key of keys) {
    if (!(RECORD_FIELDS as readonly string[]).includes(key)) {
      return reject('INVALID_RECORD', 'record.extra_field', `unexpected field "${truncate(key)}"`, ids);
    }
  }
  if (keys.length !== FIELD_COUNT) {
    const missing = RECORD_FIELDS.find((field) => !(field in value)) ?? 'unknown';
    return reject('INVALID_RECORD', `${missing}.missing`, `field "${missing}" is missing`, ids);
  }
  if (typeof value.source !== 'string') {
    return reject('INVALID_RECORD', 'source.not_string', 'source must be a string', ids);
  }
  if (source === undefined) {
    return reject('INVALID_RECORD', 'source.pattern', 'source must match ^[A-Za-z0-9._-]{1,64}$', ids);
  }
  if (!isInteger(value.seq)) {
    return reject('INVALID_RECORD', 'seq.not_integer', 'seq must be a safe integer', ids);
  }
  if (seq === undefined) {
    return reject('INVALID_RECORD', 'seq.range', 'seq must be >= 1', ids);
  }
  if (!isInteger(value.timestamp)) {
    return reject('INVALID_RECORD', 'timestamp.not_integer', 'timestamp must be an integer (ms since epoch)', ids);
  }
  if (value.timestamp < 0 || value.timestamp > MAX_TIMESTAMP) {
    return reject('INVALID_RECORD', 'timestamp.range', 'timestamp must be between 0 and 9999-12-31T23:59:59.999Z', ids);
  }
  if (!isInteger(value.randomValue)) {
    return reject('INVALID_RECORD', 'randomValue.not_integer', 'randomValue must be an integer', ids);
  }
  if (value.randomValue < MIN_RANDOM_VALUE || value.randomValue > MAX_RANDOM_VALUE) {
    return reject('INVALID_RECORD', 'randomValue.range', 'randomValue must be between 0 and 100', ids);
  }
  if (typeof value.hashValue !== 'string' || !/^[0-9a-f]{2}$/.test(value.hashValue)) {
    return reject('INVALID_RECORD', 'hashValue.format', 'hashValue must be two lowercase hex characters', ids);
  }
  if (computeHash(value.timestamp, value.randomValue) !== value.hashValue) {
    return reject('HASH_MISMATCH', 'hashValue.mismatch', 'hashValue does not match MD5(timestamp + randomValue)', ids);
  }
  return {
    ok: true,
    // A fresh object in field order: nothing of the sender's object (prototype, key order) travels on.
    record: {
      source,
      seq,
      timestamp: value.timestamp,
      randomValue: value.randomValue,
      hashValue: value.hashValue,
    },
  };
}

function reject(
  code: RecordErrorCode,
  reason: string,
  message: string,
  ids: { source?: string; seq?: number } = {},
): RecordRejection {
  return { ok: false, code, reason, message, ...definedOnly(ids) };
}

function definedOnly(ids: { source?: string; seq?: number }): { source?: string; seq?: number } {
  const out: { source?: string; seq?: number } = {};
  if (ids.source !== undefined) out.source = ids.source;
  if (ids.seq !== undefined) out.seq = ids.seq;
  return out;
}

function truncate(text: string): string {
  return text.length > 32 ? `${text.slice(0, 32)}…` : text;
}
