import type { DataRecord } from '@dataflow/contracts';

/**
 * How the pipeline hands records to the file sink, and what it knows of them per source (see
 * RecordPipeline). Unpartitioned, the filter appends to its files itself (FileSink): the files'
 * state is its floors, persisted. Partitioned, it publishes them to the file sink's partitions, which
 * the file writer of whichever replica is active on each appends (PartitionedFileLeg): what it knows
 * is what the broker confirmed, in this process.
 */
export abstract class FileLeg {
  /** Whether this leg holds the record already (exactly, per source and seq). */
  abstract holds(source: string, seq: number): boolean;
  /** Everything of the source at or below it was handed on to every sink of its route. */
  abstract floor(source: string): number;
  /** Brings back the floor of a source that left memory, before its records are judged. */
  abstract restore(source: string): void;
  /** Nothing of `source` held above its floor (it may leave memory). */
  abstract isClean(source: string): boolean;
  /** Keeps the floors of these sources, before they leave memory (if this leg keeps them at all). */
  abstract persistFloors(sources: readonly string[]): Promise<void>;
  /** The source left memory. */
  abstract forget(source: string): void;
  /** Every record of `source` up to `floor` is handed on to all its sinks. */
  abstract settled(source: string, floor: number): void;
  /** Hands on `records` (one source, ascending `seq`); resolves once they are durably taken. */
  abstract append(source: string, records: readonly DataRecord[]): Promise<void>;
  /** Undefined while records can be handed on; otherwise why not (for readiness). */
  abstract notReady(): string | undefined;
}
