import { MONGO_DLQ, MONGO_QUEUE, POSTGRES_DLQ, POSTGRES_QUEUE } from '@dataflow/contracts';
import {
  deadLetterReason,
  describeBody,
  originalQueueOf,
  replayHeaders,
  resolveDeadLetterQueues,
  summariseBody,
} from './dead-letter';

describe('dead letters', () => {
  it('resolves queue names', () => {
    expect(resolveDeadLetterQueues('postgres', false)).toEqual([POSTGRES_DLQ]);
    expect(resolveDeadLetterQueues(MONGO_DLQ, false)).toEqual([MONGO_DLQ]);
    expect(resolveDeadLetterQueues('all', true)).toEqual([POSTGRES_DLQ, MONGO_DLQ]);
    expect(() => resolveDeadLetterQueues('all', false)).toThrow('unknown dead-letter queue');
    expect(() => resolveDeadLetterQueues(POSTGRES_QUEUE, true)).toThrow('unknown dead-letter queue');
  });

  it("prefers the writer's reason and queue, then the broker's x-death", () => {
    const writer = { 'x-dataflow-reason': 'invalid_json: not JSON', 'x-dataflow-queue': MONGO_QUEUE };
    expect(deadLetterReason(writer)).toBe('invalid_json: not JSON');
    expect(originalQueueOf(writer, POSTGRES_DLQ)).toBe(MONGO_QUEUE);
    const broker = { 'x-death': [{ reason: 'delivery_limit', queue: POSTGRES_QUEUE, count: 1 }] };
    expect(deadLetterReason(broker)).toBe('delivery_limit');
    expect(originalQueueOf(broker, MONGO_DLQ)).toBe(POSTGRES_QUEUE);
    expect(deadLetterReason({ 'x-first-death-reason': 'rejected' })).toBe('rejected');
    expect(originalQueueOf({ 'x-first-death-queue': MONGO_QUEUE }, POSTGRES_DLQ)).toBe(MONGO_QUEUE);
    expect(deadLetterReason(undefined)).toBe('unknown');
    expect(originalQueueOf(undefined, MONGO_DLQ)).toBe(MONGO_QUEUE);
  });

  it('drops the dead-letter history and counts replays', () => {
    const now = new Date('2026-01-02T03:04:05.000Z');
    const first = replayHeaders(
      {
        'x-death': [{ reason: 'rejected' }],
        'x-first-death-queue': POSTGRES_QUEUE,
        'x-dataflow-reason': 'store_refused: x',
        'x-dataflow-queue': POSTGRES_QUEUE,
        'x-delivery-count': 3,
        traceparent: 'abc',
      },
      now,
    );
    expect(first).toEqual({
      traceparent: 'abc',
      'x-dataflow-replayed': 1,
      'x-dataflow-replayed-at': '2026-01-02T03:04:05.000Z',
    });
    expect(replayHeaders(first, now)['x-dataflow-replayed']).toBe(2);
  });

  it('summarises record packets and poison bodies', () => {
    const records = [
      { source: 'g', seq: 4 },
      { source: 'g', seq: 9 },
    ];
    const packet = summariseBody(Buffer.from(JSON.stringify({ pattern: 'records.high', data: records })));
    expect(packet).toMatchObject({ kind: 'records', records: 2, first: 'g:4', last: 'g:9' });
    expect(describeBody(packet)).toBe('2 records g:4..9');
    const single = summariseBody(
      Buffer.from(JSON.stringify({ pattern: 'records.high', data: { source: 'g', seq: 1 } })),
    );
    expect(describeBody(single)).toBe('1 record g:1');
    expect(describeBody(summariseBody(Buffer.from([0xff, 0x00, 0x7b])))).toBe('not JSON (3 bytes)');
    expect(describeBody(summariseBody(Buffer.from('[1,2]')))).toBe('JSON but not a record packet (5 bytes)');
    const other = summariseBody(Buffer.from(JSON.stringify({ pattern: 'other', data: [] })));
    expect(describeBody(other)).toBe('0 records (pattern other)');
  });
});
