import type { DataRecord } from '@dataflow/contracts';
import type { FileLeg } from './file-leg';
import { QueueSink } from './queue-sink.service';

/**
 * The file leg of a partitioned topology: records routed to the file sink are published (with
 * confirms, through the same RabbitMQ breaker as the queue leg) to the consistent-hash exchange
 * `dataflow.records.file.partitions`, and the file writer active on their partition appends them
 * (FileRecordStore). So any replica can take any source's records, and exactly once holds in the
 * files because their state lives with them, not in a replica. Floors are this process's only: a
 * source that left memory, or moved here from another replica, has its resends published again,
 * and the file writer recognises them.
 */
export class PartitionedFileLeg extends QueueSink implements FileLeg {
  floor(source: string): number {
    return this.held.floor(source);
  }

  restore(): void {
    // Nothing persisted to bring back (see the class comment).
  }

  persistFloors(): Promise<void> {
    return Promise.resolve();
  }

  append(source: string, records: readonly DataRecord[]): Promise<void> {
    return this.publish(source, records);
  }

  notReady(): string | undefined {
    return this.connected ? undefined : 'not connected to RabbitMQ';
  }
}
