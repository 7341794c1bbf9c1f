import { DataRecord, RECORDS_PATTERN, validateRecord } from '@dataflow/contracts';

/** Messages above this are refused unread; a full frame's worth of records is ~120 KiB. */
export const MAX_MESSAGE_BYTES = 2 * 1024 * 1024;
/** Records one message may hold; the filter's FILTER_MAX_BATCH is bounded by it. */
export const MAX_RECORDS_PER_MESSAGE = 10_000;

export const DECODE_FAILURE_REASONS = [
  'too_large',
  'invalid_json',
  'not_a_nest_packet',
  'unknown_pattern',
  'empty_batch',
  'too_many_records',
  'invalid_record',
  'hash_mismatch',
] as const;
export type DecodeFailureReason = (typeof DECODE_FAILURE_REASONS)[number];

export type DecodedMessage =
  | { readonly ok: true; readonly records: DataRecord[] }
  | { readonly ok: false; readonly reason: DecodeFailureReason; readonly detail: string };

/**
 * Decodes a record message of CONTRACT.md §5 (`{"pattern":"records.high","data":record|record[]}`).
 * Pure and total: whatever the bytes, the result is validated records or a named reason, never a throw.
 */
export function decodeRecordsMessage(content: Buffer): DecodedMessage {
  if (content.length > MAX_MESSAGE_BYTES) {
    return fail('too_large', `message of ${content.length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
  }
  let packet: unknown;
  try {
    packet = JSON.parse(content.toString('utf8'));
  } catch {
    return fail('invalid_json', 'message body is not valid JSON');
  }
  if (typeof packet !== 'object' || packet === null || Array.isArray(packet)) {
    return fail('not_a_nest_packet', 'message body is not a JSON object');
  }
  const { pattern, data } = packet as { pattern?: unknown; data?: unknown };
  if (typeof pattern !== 'string' || data === undefined) {
    return fail('not_a_nest_packet', 'message needs a string "pattern" and a "data" field');
  }
  if (pattern !== RECORDS_PATTERN) {
    return fail('unknown_pattern', `pattern "${pattern.slice(0, 64)}" is not ${RECORDS_PATTERN}`);
  }
  const items = Array.isArray(data) ? data : [data];
  if (items.length === 0) return fail('empty_batch', 'data is an empty array');
  if (items.length > MAX_RECORDS_PER_MESSAGE) {
    return fail('too_many_records', `data holds ${items.length} records, more than ${MAX_RECORDS_PER_MESSAGE}`);
  }
  const records: DataRecord[] = [];
  for (let index = 0; index < items.length; index++) {
    const result = validateRecord(items[index]);
    if (!result.ok) {
      const reason = result.code === 'HASH_MISMATCH' ? 'hash_mismatch' : 'invalid_record';
      return fail(reason, `record ${index}: ${result.message}`);
    }
    records.push(result.record);
  }
  return { ok: true, records };
}

function fail(reason: DecodeFailureReason, detail: string): DecodedMessage {
  return { ok: false, reason, detail };
}
