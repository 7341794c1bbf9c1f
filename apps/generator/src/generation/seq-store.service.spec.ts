import type { ConfigService } from '@nestjs/config';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GeneratorConfig } from '../config/generator.config';
import { SeqStore } from './seq-store.service';

function store(dir: string): SeqStore {
  const values: Record<string, string> = { GENERATOR_STATE_DIR: dir, GENERATOR_ID: 'gen-a' };
  const config = { get: (key: string) => values[key] } as unknown as ConfigService<GeneratorConfig, true>;
  return new SeqStore(config);
}

describe('SeqStore', () => {
  it('starts at 1 and counts up', () => {
    const seqs = store(mkdtempSync(join(tmpdir(), 'seq-')));
    expect([seqs.take(), seqs.take(), seqs.take()]).toEqual([1, 2, 3]);
    expect(seqs.last).toBe(3);
  });

  it('never hands out a seq again after a restart: it continues past the reserved block', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seq-'));
    const first = store(dir);
    const used = Array.from({ length: 25 }, () => first.take());
    const reserved = Number(readFileSync(join(dir, 'gen-a.seq'), 'utf8'));
    expect(reserved).toBeGreaterThanOrEqual(25);
    const second = store(dir);
    const next = second.take();
    expect(next).toBe(reserved + 1);
    expect(used).not.toContain(next);
  });

  it('reserves the next block before using it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seq-'));
    const seqs = store(dir);
    let last = 0;
    for (let i = 0; i < 10_001; i++) last = seqs.take();
    expect(Number(readFileSync(join(dir, 'gen-a.seq'), 'utf8'))).toBeGreaterThanOrEqual(last);
  });

  it('refuses to guess from a corrupt file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seq-'));
    writeFileSync(join(dir, 'gen-a.seq'), 'not a number');
    expect(() => store(dir)).toThrow(/corrupt seq file/);
  });
});
