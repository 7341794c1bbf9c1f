import type { ConfigService } from '@nestjs/config';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StartupError } from '@dataflow/config';
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

  it.each(['not a number', '', ' ', '\n', '0x1F', '1e4', '+5', ' 7', '7 ', '-1', '07', '1.5', '9007199254740993'])(
    'refuses to guess from a corrupt file holding %j, naming the file in one line',
    (content) => {
      const dir = mkdtempSync(join(tmpdir(), 'seq-'));
      writeFileSync(join(dir, 'gen-a.seq'), content);
      expect(() => store(dir)).toThrow(StartupError);
      expect(() => store(dir)).toThrow(`corrupt seq file ${join(dir, 'gen-a.seq')}`);
      try {
        store(dir);
      } catch (error) {
        expect((error as Error).message).not.toContain('\n');
      }
    },
  );

  it('reads what it wrote, with or without the newline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seq-'));
    writeFileSync(join(dir, 'gen-a.seq'), '20000');
    expect(store(dir).take()).toBe(20001);
    writeFileSync(join(dir, 'gen-a.seq'), '0\n');
    expect(store(dir).take()).toBe(1);
  });
});
