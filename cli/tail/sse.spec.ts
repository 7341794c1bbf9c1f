import { SseEvent, SseParser } from './sse';

function parseAll(chunks: readonly string[]): SseEvent[] {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

describe('SseParser', () => {
  it('parses named events with data', () => {
    expect(parseAll(['event: record\ndata: {"seq":1}\n\n'])).toEqual([{ event: 'record', data: '{"seq":1}' }]);
  });

  it('defaults the event name to message and joins data lines with newlines', () => {
    expect(parseAll(['data: a\ndata:b\ndata\n\n'])).toEqual([{ event: 'message', data: 'a\nb\n' }]);
  });

  it('accepts CRLF, LF and CR line ends, also split across chunks', () => {
    const text = 'event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\revent: c\ndata: 3\n\n';
    const whole = parseAll([text]);
    expect(whole.map((e) => `${e.event}=${e.data}`)).toEqual(['a=1', 'b=2', 'c=3']);
    for (let cut = 1; cut < text.length; cut++) {
      expect(parseAll([text.slice(0, cut), text.slice(cut)])).toEqual(whole);
    }
    expect(parseAll(text.split(''))).toEqual(whole);
  });

  it('ignores comments, unknown fields and events without data', () => {
    expect(parseAll([': keep-alive\n\nevent: x\n\nfoo: bar\ndata: y\n\n'])).toEqual([{ event: 'message', data: 'y' }]);
  });

  it('strips only one leading space and keeps colons in the value', () => {
    expect(parseAll(['data:  {"a":"b:c"}\n\n'])).toEqual([{ event: 'message', data: ' {"a":"b:c"}' }]);
  });

  it('carries the last id and a retry value', () => {
    const events = parseAll(['id: 7\nretry: 1500\ndata: a\n\ndata: b\n\n']);
    expect(events).toEqual([
      { event: 'message', data: 'a', id: '7', retry: 1500 },
      { event: 'message', data: 'b', id: '7' },
    ]);
  });

  it('drops an unterminated event at the end of the stream and skips a BOM', () => {
    const parser = new SseParser();
    expect(parser.push('\ufeffdata: 1\n\ndata: 2\n')).toEqual([{ event: 'message', data: '1' }]);
    parser.end();
    expect(parser.push('\n')).toEqual([]);
  });

  it('handles the dropped notice of the tail stream', () => {
    expect(parseAll(['event: dropped\ndata: {"count": 12}\n\n'])).toEqual([
      { event: 'dropped', data: '{"count": 12}' },
    ]);
  });
});
