import { exceedsDepth } from './frame-depth';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('exceedsDepth', () => {
  it('accepts a records envelope at its natural depth of 3', () => {
    const frame = JSON.stringify({ event: 'records', data: [{ source: 's', seq: 1 }] });
    expect(exceedsDepth(bytes(frame), 3)).toBe(false);
    expect(exceedsDepth(bytes(frame), 2)).toBe(true);
  });

  it('counts objects and arrays alike', () => {
    expect(exceedsDepth(bytes('[{"a":[{"b":[]}]}]'), 5)).toBe(false);
    expect(exceedsDepth(bytes('[{"a":[{"b":[]}]}]'), 4)).toBe(true);
  });

  it('measures the deepest point, not the number of brackets', () => {
    const wide = `[${Array.from({ length: 10_000 }, () => '[[1]]').join(',')}]`;
    expect(exceedsDepth(bytes(wide), 3)).toBe(false);
  });

  it('ignores brackets inside strings, also after escaped quotes and backslashes', () => {
    expect(exceedsDepth(bytes(JSON.stringify({ a: '[[[[[[{{{{' })), 1)).toBe(false);
    expect(exceedsDepth(bytes(JSON.stringify({ a: 'x\\"[[[[[[' })), 1)).toBe(false);
    expect(exceedsDepth(bytes(JSON.stringify({ a: 'x\\', b: [[[[1]]]] })), 4)).toBe(true);
  });

  it('is not fooled by multi-byte characters', () => {
    expect(exceedsDepth(bytes(JSON.stringify({ a: 'ü[€]😀', b: ['ß'] })), 2)).toBe(false);
  });

  it('finds a frame too deep even when the rest of it is not JSON', () => {
    expect(exceedsDepth(bytes(`${'['.repeat(33)}"unterminated`), 32)).toBe(true);
    expect(exceedsDepth(bytes(`${'['.repeat(32)}"unterminated`), 32)).toBe(false);
  });

  it('jumps over long strings, escaped quotes at the end included', () => {
    const padding = 'x'.repeat(1024 * 1024);
    expect(exceedsDepth(bytes(JSON.stringify({ a: padding, b: [[[1]]] })), 3)).toBe(true);
    expect(exceedsDepth(bytes(JSON.stringify({ a: `${padding}\\"`, b: [[1]] })), 3)).toBe(false);
  });

  it('agrees with the actual nesting of random JSON values', () => {
    const depthOf = (value: unknown): number =>
      typeof value === 'object' && value !== null
        ? 1 + Math.max(0, ...Object.values(value as Record<string, unknown>).map(depthOf))
        : 0;
    const values: unknown[] = [[], {}, [[[]]], { a: { b: { c: [1, 'x]'] } } }, 'plain', 42, null, [{}, [[{}]]]];
    for (const value of values) {
      const depth = depthOf(value);
      const text = bytes(JSON.stringify(value));
      expect(exceedsDepth(text, depth)).toBe(false);
      if (depth > 0) expect(exceedsDepth(text, depth - 1)).toBe(true);
    }
  });
});
