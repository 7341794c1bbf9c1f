import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { mkdir } from 'node:fs/promises';
import { DataRecord, hourFileName } from '@dataflow/contracts';
import { Counted, Timed } from '@dataflow/observability';
import { Resilient } from '@dataflow/resilience';
import { readCheckpoint, writeCheckpoint } from './file-sink.checkpoint';
import { recoverFileSink } from './file-sink.recovery';
import { FloorStore } from './floor-store';
import { HeldSeqs } from './held-seqs';
import { FILE_SINK_OPTIONS, type FileSinkOptions } from './file-sink.options';
import type { FileLeg } from './file-leg';
import { SinkFiles, type Written } from './sink-files';

export const FILESYSTEM_POLICY = 'filesystem';
/** Files written within this long stay in the checkpoint (later ones are judged by mtime). */
const CHECKPOINT_HORIZON_MS = 2 * 60 * 60 * 1000;
/** A checkpoint is written at most this often. */
const CHECKPOINT_EVERY_MS = 1_000;

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

interface PendingBatch {
  readonly chunks: Map<string, string[]>;
  /** The seqs each source has in this batch. */
  readonly written: Map<string, number[]>;
  readonly waiters: Waiter[];
  bytes: number;
}

function emptyBatch(): PendingBatch {
  return { chunks: new Map(), written: new Map(), waiters: [], bytes: 0 };
}

/**
 * Buffered NDJSON file sink of CONTRACT.md §6. `append` resolves once the buffer holding the
 * records has been written (and fdatasync'ed); only then does the filter acknowledge them. A failed
 * flush truncates each file back to its last good size, so a file never keeps a partial batch while
 * the process runs, and start-up repairs a torn last line after a crash.
 */
@Injectable()
export class FileSink implements FileLeg, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(FileSink.name);
  private readonly dir: string;
  private readonly intervalMs: number;
  private readonly flushBytes: number;
  private held = new HeldSeqs();
  private readonly floors: FloorStore;
  private readonly files: SinkFiles;
  private pending = emptyBatch();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpointing: Promise<void> = Promise.resolve();
  private lastCheckpointAt = 0;

  constructor(@Inject(FILE_SINK_OPTIONS) options: FileSinkOptions) {
    this.dir = options.dir;
    this.intervalMs = options.flushIntervalMs;
    this.flushBytes = options.flushBytes;
    this.files = new SinkFiles(options.dir, options.fsync);
    this.floors = new FloorStore(this.dir);
  }

  async onModuleInit(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const started = performance.now();
    const state = await recoverFileSink(this.dir, await readCheckpoint(this.dir));
    this.held = state.held;
    const evicted = this.floors.open();
    for (const [name, { size, mtimeMs }] of state.files) this.files.known(name, size, mtimeMs);
    for (const name of state.repairedFiles) this.logger.warn(`repaired a torn last line in ${name}`);
    if (state.unreadableLines > 0) this.logger.error(`${state.unreadableLines} unreadable lines in ${this.dir}`);
    this.logger.log(
      `file sink ready in ${this.dir}: ${this.held.size} sources in memory, ${evicted} evicted, scanned ${state.scannedBytes} bytes in ${Math.round(performance.now() - started)} ms`,
    );
  }

  /** Always ready: readiness checks the output directory itself. */
  notReady(): undefined {
    return undefined;
  }

  /** Whether the files durably hold this record (exactly, per source and seq). */
  holds(source: string, seq: number): boolean {
    return this.held.holds(source, seq);
  }

  /** The source's floor as last persisted (everything at or below it was handed on everywhere). */
  floor(source: string): number {
    return this.held.floor(source);
  }

  /**
   * Brings back the floor of a source evicted from memory (see RecordPipeline), before its records
   * are judged; nothing to do for a source never evicted. Called on a source's first use, also when
   * start-up has already put it in memory: what the checkpoint and the scan say of it (records after
   * it came back, or a checkpoint older than its eviction) may be below the floor it left with, and
   * the higher of the two holds.
   */
  restore(source: string): void {
    const floor = this.floors.floor(source);
    if (floor !== undefined) this.held.restore(source, { floor });
  }

  /** Nothing of `source` held above its floor (it may leave memory). */
  isClean(source: string): boolean {
    return this.held.isClean(source);
  }

  /** Makes the floors of these sources durable, before they leave memory (see SourceEviction). */
  async persistFloors(sources: readonly string[]): Promise<void> {
    const floors = new Map<string, number>();
    for (const source of sources) floors.set(source, this.held.floor(source));
    await this.floors.save(floors);
  }

  /** The source left memory (its floor is in the floor store): gone from the next checkpoint too. */
  forget(source: string): void {
    this.held.delete(source);
    this.checkpointSoon();
  }

  /**
   * Every record of `source` up to `floor` is handed on to all its sinks: the exact seqs below are
   * forgotten, and the floor goes into the next checkpoint.
   */
  settled(source: string, floor: number): void {
    if (this.held.settle(source, floor)) this.checkpointSoon();
  }

  /** Buffers `records` (one source, ascending `seq`) and resolves when they are flushed. */
  append(source: string, records: readonly DataRecord[]): Promise<void> {
    const last = records[records.length - 1];
    if (!last) return Promise.resolve();
    // No fast refusal here while the breaker is open: the next flush goes through the policy,
    // which refuses at once while open and lets the half-open trial through when the pause is over.
    // Refusing here would keep the breaker from ever trying again.
    const batch = this.pending;
    for (const record of records) {
      const name = hourFileName(record.timestamp);
      const line = `${JSON.stringify(record)}\n`;
      let chunks = batch.chunks.get(name);
      if (!chunks) batch.chunks.set(name, (chunks = []));
      chunks.push(line);
      batch.bytes += line.length;
    }
    let written = batch.written.get(source);
    if (!written) batch.written.set(source, (written = []));
    for (const record of records) written.push(record.seq);
    const done = new Promise<void>((resolve, reject) => batch.waiters.push({ resolve, reject }));
    if (batch.bytes >= this.flushBytes) this.flushSoon(0);
    else this.flushSoon(this.intervalMs);
    return done;
  }

  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
    clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
    await this.checkpointing;
    await this.saveCheckpoint();
    await this.files.closeAll();
    this.floors.close();
  }

  /** Flushes what is buffered now; resolves after it (and any flush before it) settled. */
  flush(): Promise<void> {
    const batch = this.pending;
    this.pending = emptyBatch();
    this.flushing = this.flushing.then(() => this.write(batch));
    return this.flushing;
  }

  private flushSoon(delayMs: number): void {
    if (this.timer && delayMs > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
  }

  private async write(batch: PendingBatch): Promise<void> {
    if (batch.waiters.length === 0) return;
    let written: Written;
    try {
      written = await this.writeChunks(batch.chunks);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.logger.error(`file sink flush failed: ${failure.message}`);
      for (const waiter of batch.waiters) waiter.reject(failure);
      return;
    }
    // Sizes and held seqs move together, in one step: a checkpoint never has one without the other.
    this.files.commit(written);
    for (const [source, seqs] of batch.written) this.held.add(source, seqs);
    for (const waiter of batch.waiters) waiter.resolve();
    this.checkpointSoon();
  }

  /**
   * All or nothing across files (a failure takes back what this flush wrote to any of them); returns
   * each file's new size, which the caller commits. The breaker counts failures and fails fast while
   * open.
   */
  @Counted('file.write')
  @Resilient(FILESYSTEM_POLICY)
  @Timed('file.write', { sink: 'file' })
  private writeChunks(chunks: Map<string, string[]>): Promise<Written> {
    return this.files.write(chunks);
  }

  /**
   * At most one checkpoint a second. One that lags the files is still consistent (sizes, floors and
   * held seqs are taken together): the start-up scan covers more, and a floor that lags treats a few
   * more resends as new, which the exact held seqs then recognise. At low rates it saves a write per
   * flush.
   */
  private checkpointSoon(): void {
    if (this.checkpointTimer) return;
    const wait = Math.max(0, this.lastCheckpointAt + CHECKPOINT_EVERY_MS - Date.now());
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined;
      this.checkpointing = this.checkpointing.then(() => this.saveCheckpoint());
    }, wait);
  }

  private async saveCheckpoint(): Promise<void> {
    this.lastCheckpointAt = Date.now();
    const files = this.files.recentSizes(CHECKPOINT_HORIZON_MS);
    try {
      await writeCheckpoint(this.dir, { writtenAt: Date.now(), files, sources: this.held.snapshot() });
    } catch (error) {
      this.logger.warn(`could not write the checkpoint (start-up will scan more): ${String(error)}`);
    }
  }
}
