/** One Server-Sent Event (HTML Living Standard, "Interpreting an event stream"). */
export interface SseEvent {
  /** The `event:` field, `message` when absent. */
  readonly event: string;
  /** The `data:` lines joined with newlines. */
  readonly data: string;
  /** The last event id seen so far on the stream, if any. */
  readonly id?: string;
  /** A `retry:` field (reconnection time in ms) seen with this event. */
  readonly retry?: number;
}

/**
 * An incremental event-stream parser: feed it text chunks as they arrive (split anywhere, even
 * between a CR and its LF) and it returns the events completed by each chunk. Lines end in CRLF,
 * LF or CR; `:` lines are comments; an event is dispatched at a blank line and only when it has
 * data; a trailing event without its blank line is dropped at the end of the stream.
 */
export class SseParser {
  private buffer = '';
  private started = false;
  /** The previous chunk ended in CR: a LF at the start of the next one belongs to it. */
  private pendingCr = false;
  private data: string[] = [];
  private eventType = '';
  private lastId: string | undefined;
  private retry: number | undefined;

  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const lf = this.buffer.indexOf('\n', start);
      const cr = this.buffer.indexOf('\r', start);
      if (lf === -1 && cr === -1) break;
      let end: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        end = cr;
        if (cr + 1 < this.buffer.length) {
          next = this.buffer.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
        } else {
          // A CR at the very end: the line ends here; a LF may follow in the next chunk.
          next = cr + 1;
          this.pendingCr = true;
        }
      } else {
        end = lf;
        next = lf + 1;
      }
      const event = this.line(this.buffer.slice(start, end));
      if (event !== undefined) events.push(event);
      start = next;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  /** The stream ended: an unterminated event is discarded (and the parser reset). */
  end(): void {
    this.buffer = '';
    this.pendingCr = false;
    this.data = [];
    this.eventType = '';
    this.retry = undefined;
  }

  private line(line: string): SseEvent | undefined {
    if (line.length === 0) return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventType = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    const data = this.data;
    const event = this.eventType;
    const retry = this.retry;
    this.data = [];
    this.eventType = '';
    this.retry = undefined;
    if (data.length === 0) return undefined;
    return {
      event: event.length > 0 ? event : 'message',
      data: data.join('\n'),
      ...(this.lastId !== undefined ? { id: this.lastId } : {}),
      ...(retry !== undefined ? { retry } : {}),
    };
  }
}
