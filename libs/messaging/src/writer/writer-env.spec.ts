import { z } from 'zod';
import { checkWriterBound, writerValues, writerVariables } from './writer-env';

const schema = z.object({ ...writerVariables('TEST_WRITER') }).superRefine(checkWriterBound('TEST_WRITER'));

describe('the writers’ shared variables', () => {
  it('are named under the writer’s prefix, with their defaults', () => {
    const env = schema.parse({});
    expect(Object.keys(env).sort()).toEqual([
      'TEST_WRITER_BATCH_MS',
      'TEST_WRITER_BATCH_SIZE',
      'TEST_WRITER_BREAKER_FAILURES',
      'TEST_WRITER_BREAKER_HALF_OPEN_MS',
      'TEST_WRITER_MAX_HELD_RECORDS',
      'TEST_WRITER_REBALANCE_MS',
      'TEST_WRITER_REPLICAS',
      'TEST_WRITER_RETRY_MAX_MS',
    ]);
    const values = writerValues('TEST_WRITER', (name) => (env as Record<string, unknown>)[name]);
    expect(values).toMatchObject({
      BATCH_SIZE: 1000,
      BATCH_MS: 10,
      PREFETCH: undefined,
      ORDINAL: undefined,
      REPLICAS: 1,
    });
  });

  it('refuse an ordinal that is not below the replicas, naming the variable', () => {
    const result = schema.safeParse({ TEST_WRITER_ORDINAL: '3', TEST_WRITER_REPLICAS: '3' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['TEST_WRITER_ORDINAL']);
    expect(schema.safeParse({ TEST_WRITER_ORDINAL: '2', TEST_WRITER_REPLICAS: '3' }).success).toBe(true);
  });

  it('refuse an explicit prefetch that can hold more than the held bound, naming the variable', () => {
    const result = schema.safeParse({ TEST_WRITER_PREFETCH: '500', TEST_WRITER_MAX_HELD_RECORDS: '10000' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['TEST_WRITER_PREFETCH']);
    expect(schema.safeParse({ TEST_WRITER_PREFETCH: '1', TEST_WRITER_MAX_HELD_RECORDS: '10000' }).success).toBe(true);
  });
});
