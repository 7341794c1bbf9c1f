import { ACK_EVENT, ERROR_EVENT } from '@dataflow/contracts';

/** Refused records of this generator's source, by the code the filter gave. */
export interface RefusedSeqs {
  readonly code: string;
  readonly seqs: readonly number[];
}

/** What a frame from the filter means to the generator, checked field by field. */
export type FilterAnswer =
  | { readonly kind: 'ack'; readonly source: string; readonly seqs: readonly number[] }
  | {
      readonly kind: 'error';
      readonly code: string;
      readonly message: string;
      /** Empty for a refusal of the whole frame (INVALID_JSON, INVALID_ENVELOPE, RATE_LIMITED). */
      readonly refused: readonly RefusedSeqs[];
    }
  | { readonly kind: 'malformed'; readonly problem: string };

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isSeq = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 1;
const isSeqList = (value: unknown): value is number[] => Array.isArray(value) && value.every(isSeq);

/**
 * Reads one text frame from the filter (CONTRACT.md §4). Anything that does not follow the
 * protocol (not JSON, `null`, an ack or error without `data`, a seq that is not an integer, …) is
 * `malformed`, never an exception: a wrong FILTER_WS_URL or a broken peer must not crash the
 * generator and lose the records it holds. Refused seqs are those of `source` (or without a
 * source: a record whose source the filter could not read), from the aggregated `refused` list
 * when present, else from the error's own `seq`.
 */
export function parseFilterAnswer(text: string, source: string): FilterAnswer {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return malformed('not JSON');
  }
  if (!isObject(frame)) return malformed('not a JSON object');
  const { event, data } = frame;
  if (event === ACK_EVENT) {
    if (!isObject(data)) return malformed('ack without data');
    if (typeof data.source !== 'string') return malformed('ack without a source');
    if (!isSeqList(data.seqs)) return malformed('ack whose seqs are not a list of integers >= 1');
    return { kind: 'ack', source: data.source, seqs: data.seqs };
  }
  if (event === ERROR_EVENT) {
    if (!isObject(data)) return malformed('error without data');
    if (typeof data.code !== 'string') return malformed('error without a code');
    const message = typeof data.message === 'string' ? data.message : '';
    if (data.seq !== undefined && !isSeq(data.seq)) return malformed('error whose seq is not an integer >= 1');
    const mine = (value: unknown): boolean => value === undefined || value === source;
    if (data.refused !== undefined) {
      if (!Array.isArray(data.refused)) return malformed('error whose refused is not a list');
      const refused: RefusedSeqs[] = [];
      for (const group of data.refused) {
        if (!isObject(group) || typeof group.code !== 'string' || !isSeqList(group.seqs)) {
          return malformed('error with a malformed refused entry');
        }
        if (mine(group.source)) refused.push({ code: group.code, seqs: group.seqs });
      }
      return { kind: 'error', code: data.code, message, refused };
    }
    const refused = isSeq(data.seq) && mine(data.source) ? [{ code: data.code, seqs: [data.seq] }] : [];
    return { kind: 'error', code: data.code, message, refused };
  }
  return malformed(`unknown event ${JSON.stringify(String(event)).slice(0, 40)}`);
}

function malformed(problem: string): FilterAnswer {
  return { kind: 'malformed', problem };
}
