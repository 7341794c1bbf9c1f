import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { access, constants, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataRecord } from '@dataflow/contracts';
import type { RecordStore, StoreContext, StoreOutcome } from '@dataflow/messaging';
import { Counted, Timed } from '@dataflow/observability/instrumentation';
import { Resilient } from '@dataflow/resilience';
import { FILE_SINK_OPTIONS, type FileSinkOptions } from '../sinks/file-sink.options';
import { FILESYSTEM_POLICY } from '../sinks/file-sink.service';
import { PartitionFiles } from './partition-files';

/**
 * The file sink's store when the topology is partitioned: the records of `dataflow.records.file.<p>`
 * go to the directory `FILTER_OUTPUT_DIR/<p>` (see {@link PartitionFiles}). Each filter replica runs
 * it on the partitions it is the active consumer of; the ownership of a partition's files moves with
 * its single active consumer and is fenced by the directory's lock.
 */
@Injectable()
export class FileRecordStore implements RecordStore, OnModuleInit, OnApplicationShutdown {
  readonly sink = 'file';
  private readonly logger = new Logger(FileRecordStore.name);
  private readonly partitions = new Map<string, PartitionFiles>();
  private readonly dir: string;
  private readonly fsync: boolean;

  constructor(@Inject(FILE_SINK_OPTIONS) options: FileSinkOptions) {
    this.dir = options.dir;
    this.fsync = options.fsync;
  }

  /** The output directory exists from the start (readiness checks it), whether or not partitions come. */
  async onModuleInit(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  /** No retry here (an append that failed is consumed again from the queue); the breaker counts failures. */
  @Counted('file.write')
  @Resilient(FILESYSTEM_POLICY)
  @Timed('file.write', { sink: 'file' })
  store(records: DataRecord[], context: StoreContext, signal?: AbortSignal): Promise<StoreOutcome> {
    return this.partitionOf(context.queue).append(records, context.replayed, signal);
  }

  /** Any record can be written as a line: a failure is the file system's, never the data's. */
  isPermanent(): boolean {
    return false;
  }

  async ping(): Promise<void> {
    await access(this.dir, constants.W_OK);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.partitions.values()].map((partition) => partition.close()));
  }

  /** The partition of a queue `dataflow.records.file.<p>`: directory `<p>`. */
  private partitionOf(queue: string): PartitionFiles {
    let partition = this.partitions.get(queue);
    if (!partition) {
      const index = queue.slice(queue.lastIndexOf('.') + 1);
      partition = new PartitionFiles(join(this.dir, index), this.fsync, {
        waiting: (dir) => this.logger.warn(`${dir}: waiting for its previous owner to let go of its lock`),
        tookOver: (dir, { scannedBytes, repairedFiles, unreadableLines }) => {
          for (const name of repairedFiles) this.logger.warn(`${dir}: repaired a torn last line in ${name}`);
          if (unreadableLines > 0) this.logger.error(`${dir}: ${unreadableLines} unreadable lines`);
          this.logger.log(`${dir}: taken over, scanned ${scannedBytes} bytes written after the last commit`);
        },
      });
      this.partitions.set(queue, partition);
    }
    return partition;
  }
}
