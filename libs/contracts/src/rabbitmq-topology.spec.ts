import {
  FILE_DLQ,
  FILE_PARTITION_EXCHANGE,
  fileTopology,
  isRecordQueue,
  MONGO_DLQ,
  MONGO_QUEUE,
  partitionQueue,
  POSTGRES_DLQ,
  POSTGRES_QUEUE,
  RECORD_QUEUES,
  recordTopology,
} from './rabbitmq-topology';

describe('the record topology', () => {
  it('is the contract’s two queues, bound to the fanout exchange, when unpartitioned', () => {
    const [postgres, mongo] = recordTopology(1);
    expect(postgres).toMatchObject({ sink: 'postgres', partitionExchange: undefined, deadLetterQueue: POSTGRES_DLQ });
    expect(postgres?.queues.map((q) => q.queue)).toEqual([POSTGRES_QUEUE]);
    expect(mongo?.queues.map((q) => q.queue)).toEqual([MONGO_QUEUE]);
    // Declared as they always were: RabbitMQ refuses a re-declaration with other arguments.
    expect(postgres?.queues[0]?.arguments['x-single-active-consumer']).toBeUndefined();
    expect(mongo?.queues[0]?.arguments['x-single-active-consumer']).toBe(true);
    expect(RECORD_QUEUES.map((q) => q.queue)).toEqual([POSTGRES_QUEUE, MONGO_QUEUE]);
  });

  it('has P quorum queues per sink behind a consistent-hash exchange, each with a single active consumer', () => {
    for (const sink of recordTopology(8)) {
      expect(sink.partitionExchange).toBe(`dataflow.records.${sink.sink}.partitions`);
      expect(sink.queues.map((q) => q.queue)).toEqual(
        Array.from({ length: 8 }, (_, p) => `dataflow.records.${sink.sink}.${p}`),
      );
      for (const queue of sink.queues) {
        expect(queue.deadLetterQueue).toBe(sink.sink === 'postgres' ? POSTGRES_DLQ : MONGO_DLQ);
        expect(queue.arguments).toMatchObject({
          'x-queue-type': 'quorum',
          'x-single-active-consumer': true,
          'x-dead-letter-routing-key': queue.deadLetterQueue,
        });
        expect(queue.arguments['x-delivery-limit']).toBeGreaterThan(0);
      }
    }
  });

  it('gives the file sink partitions of its own only when partitioned, behind an exchange the filter publishes to', () => {
    expect(fileTopology(1)).toBeUndefined();
    const file = fileTopology(4);
    expect(file).toMatchObject({ sink: 'file', partitionExchange: FILE_PARTITION_EXCHANGE, deadLetterQueue: FILE_DLQ });
    expect(file?.queues.map((q) => q.queue)).toEqual([0, 1, 2, 3].map((p) => `dataflow.records.file.${p}`));
    for (const queue of file?.queues ?? []) {
      expect(queue.arguments).toMatchObject({ 'x-queue-type': 'quorum', 'x-single-active-consumer': true });
      expect(isRecordQueue(queue.queue)).toBe(true);
    }
    expect(isRecordQueue('dataflow.records.file')).toBe(false);
    expect(isRecordQueue(FILE_DLQ)).toBe(false);
  });

  it('refuses a partition count out of range', () => {
    for (const bad of [0, 65, 1.5, Number.NaN]) expect(() => recordTopology(bad)).toThrow('partitions must be');
  });

  it('names partitions so that the CLI knows them for record queues, and nothing else', () => {
    expect(partitionQueue('mongo', 0, 1)).toBe(MONGO_QUEUE);
    expect(partitionQueue('mongo', 3, 8)).toBe('dataflow.records.mongo.3');
    for (const queue of [POSTGRES_QUEUE, MONGO_QUEUE, 'dataflow.records.mongo.0', 'dataflow.records.postgres.63']) {
      expect(isRecordQueue(queue)).toBe(true);
    }
    for (const queue of [POSTGRES_DLQ, MONGO_DLQ, 'dataflow.records.mongo.01', 'dataflow.records.mongo.100', 'x']) {
      expect(isRecordQueue(queue)).toBe(false);
    }
  });
});
