import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as contracts from './index';

/** Every `.js` file under `dir` that sits beside a `.ts` file of the same name. */
function shadowingJs(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'node_modules') found.push(...shadowingJs(path));
    } else if (name.endsWith('.js') && statSync(path.replace(/\.js$/, '.ts'), { throwIfNoEntry: false })?.isFile()) {
      found.push(relative(process.cwd(), path));
    }
  }
  return found;
}

describe('@dataflow/contracts', () => {
  it('exports the contract API from its index', () => {
    expect(typeof contracts.computeHash).toBe('function');
    expect(typeof contracts.validateRecord).toBe('function');
    expect(typeof contracts.planNesting).toBe('function');
    expect(typeof contracts.nestStream).toBe('function');
    expect(typeof contracts.hourFileName).toBe('function');
    expect(contracts.RECORDS_PATTERN).toBe('records.high');
    expect(contracts.MAX_RECORDS_PER_FRAME).toBe(1000);
    expect(contracts.RECORDS_EXCHANGE).toBe('dataflow.records');
  });

  it('has no compiled .js beside its .ts sources (jest resolves .js first, so the specs would test stale output)', () => {
    const roots = ['libs', 'apps'].map((root) => join(process.cwd(), root));
    const stale = roots.flatMap((root) =>
      readdirSync(root)
        .map((name) => join(root, name, 'src'))
        .filter((src) => statSync(src, { throwIfNoEntry: false })?.isDirectory())
        .flatMap(shadowingJs),
    );
    expect(stale).toEqual([]);
  });
});
