import type { DataRecord } from '@dataflow/contracts';
import { ThresholdRouter } from './record-router';

function withValue(randomValue: number): DataRecord {
  return { source: 'generator-1', seq: 1, timestamp: 0, randomValue, hashValue: '00' };
}

describe('ThresholdRouter', () => {
  it('routes the seed rule at the default threshold 90: > 90 to the queue, the rest to the file', () => {
    const router = new ThresholdRouter(90);
    expect(router.route(withValue(90))).toEqual(['file']);
    expect(router.route(withValue(91))).toEqual(['queue']);
    expect(router.route(withValue(0))).toEqual(['file']);
    expect(router.route(withValue(100))).toEqual(['queue']);
  });

  it('routes every value 0..100 to exactly one sink', () => {
    const router = new ThresholdRouter(90);
    for (let value = 0; value <= 100; value++) {
      expect(router.route(withValue(value))).toEqual([value > 90 ? 'queue' : 'file']);
    }
  });

  it('with threshold -1 routes everything to the queue', () => {
    const router = new ThresholdRouter(-1);
    for (let value = 0; value <= 100; value++) expect(router.route(withValue(value))).toEqual(['queue']);
  });

  it('with threshold 100 routes everything to the file', () => {
    const router = new ThresholdRouter(100);
    for (let value = 0; value <= 100; value++) expect(router.route(withValue(value))).toEqual(['file']);
  });

  it('names its version after the threshold', () => {
    expect(new ThresholdRouter(90).version).toBe('threshold-90');
    expect(new ThresholdRouter(-1).version).toBe('threshold--1');
  });
});
