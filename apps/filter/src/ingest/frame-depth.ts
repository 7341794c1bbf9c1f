const OPEN_OBJECT = 0x7b; // {
const OPEN_ARRAY = 0x5b; // [
const CLOSE_OBJECT = 0x7d; // }
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

/**
 * Whether the JSON text in `frame` nests objects and arrays deeper than `maxDepth`, found by one
 * pass over the bytes before anything is parsed. `JSON.parse` of a deeply nested frame costs
 * hundreds of milliseconds (the event loop stalls meanwhile); this pass costs about a millisecond
 * per MiB and stops at the first level too deep. Brackets inside strings do not count. Works on
 * the UTF-8 bytes: every byte of a multi-byte character is >= 0x80, so it is never taken for a
 * bracket, a quote or a backslash. Text that is not JSON at all is left to the parser.
 */
export function exceedsDepth(frame: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < frame.length; i++) {
    const byte = frame[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      if (++depth > maxDepth) return true;
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
      depth--;
    }
  }
  return false;
}
