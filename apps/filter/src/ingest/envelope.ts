import { MAX_RECORDS_PER_FRAME, RECORDS_EVENT } from '@dataflow/contracts';

/** Why `frame` is not a valid records envelope, or undefined if it is one. */
export function envelopeProblem(frame: unknown): string | undefined {
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return 'frame must be a JSON object';
  const { event, data } = frame as { event?: unknown; data?: unknown };
  if (event !== RECORDS_EVENT) return `"event" must be "${RECORDS_EVENT}"`;
  if (!Array.isArray(data)) return '"data" must be an array of records';
  if (data.length === 0) return '"data" must hold at least one record';
  if (data.length > MAX_RECORDS_PER_FRAME)
    return `"data" holds ${data.length} records, at most ${MAX_RECORDS_PER_FRAME} allowed`;
  const extra = Object.keys(frame).find((key) => key !== 'event' && key !== 'data');
  if (extra !== undefined) return `unexpected field "${extra.slice(0, 32)}" in the envelope`;
  return undefined;
}
