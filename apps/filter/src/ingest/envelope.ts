import { MAX_RECORDS_PER_FRAME, RECORDS_EVENT } from '@dataflow/contracts';

/** `traceparent`/`tracestate` are optional W3C trace context; a malformed value is ignored, not refused. */
const ENVELOPE_KEYS = new Set(['event', 'data', 'traceparent', 'tracestate']);

/** Why `frame` is not a valid records envelope, or undefined if it is one. */
export function envelopeProblem(frame: unknown): string | undefined {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return 'frame must be a JSON object';
  const { event, data } = frame as { event?: unknown; data?: unknown };
  if (event !== RECORDS_EVENT) return `"event" must be "${RECORDS_EVENT}"`;
  if (!Array.isArray(data)) return '"data" must be an array of records';
  if (data.length === 0) return '"data" must hold at least one record';
  if (data.length > MAX_RECORDS_PER_FRAME)
    return `"data" holds ${data.length} records, at most ${MAX_RECORDS_PER_FRAME} allowed`;
  const { traceparent, tracestate } = frame as { traceparent?: unknown; tracestate?: unknown };
  if (traceparent !== undefined && (typeof traceparent !== 'string' || traceparent.length > 256))
    return '"traceparent" must be a string (W3C trace context)';
  if (tracestate !== undefined && (typeof tracestate !== 'string' || tracestate.length > 512))
    return '"tracestate" must be a string of at most 512 characters';
  const extra = Object.keys(frame).find((key) => !ENVELOPE_KEYS.has(key));
  if (extra !== undefined) return `unexpected field "${extra.slice(0, 32)}" in the envelope`;
  return undefined;
}
