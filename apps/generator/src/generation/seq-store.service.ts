import { Inject, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SEQ_BLOCK_SIZE } from '@dataflow/contracts';
import type { GeneratorConfig } from '../config/generator.config';
import { readSeqFile } from './seq-file';

/**
 * Hands out `seq` numbers that are never reused for this source, also across restarts. Like a
 * database sequence cache, it durably reserves a block before using any number in it, so one
 * fsync covers 10,000 records; after a crash the unused rest of the block is skipped.
 */
@Injectable()
export class SeqStore {
  private readonly file: string;
  private next: number;
  private reservedUpTo: number;

  constructor(@Inject(ConfigService) config: ConfigService<GeneratorConfig, true>) {
    const dir = config.get('GENERATOR_STATE_DIR', { infer: true });
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `${config.get('GENERATOR_ID', { infer: true })}.seq`);
    this.reservedUpTo = readSeqFile(this.file);
    this.next = this.reservedUpTo + 1;
  }

  take(): number {
    if (this.next > this.reservedUpTo) this.reserve(this.next + SEQ_BLOCK_SIZE - 1);
    return this.next++;
  }

  /** The last seq handed out (0 if none yet). */
  get last(): number {
    return this.next - 1;
  }

  /** Write-to-temp, fsync, rename: the file always holds a complete number. */
  private reserve(upTo: number): void {
    const temp = `${this.file}.tmp`;
    const fd = openSync(temp, 'w');
    try {
      writeSync(fd, `${upTo}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.file);
    // The rename itself must reach the disk too, or a power loss could bring back the old value.
    const dir = openSync(dirname(this.file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    this.reservedUpTo = upTo;
  }
}
