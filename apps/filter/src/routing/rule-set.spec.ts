import fc from 'fast-check';
import { computeHash, type DataRecord } from '@dataflow/contracts';
import { compileRuleSet, parseRuleSet, RuleSetError, thresholdRuleSet } from './rule-set';

function rec(randomValue: number, overrides: Partial<DataRecord> = {}): DataRecord {
  const timestamp = 1_732_500_000_000;
  return {
    source: 'gen-1',
    seq: 1,
    timestamp,
    randomValue,
    hashValue: computeHash(timestamp, randomValue),
    ...overrides,
  };
}

function problemsOf(input: unknown): readonly string[] {
  try {
    compileRuleSet(input);
  } catch (error) {
    if (error instanceof RuleSetError) return error.problems;
    throw error;
  }
  throw new Error('rule set was accepted');
}

describe('the threshold rule set (the seed rule, CONTRACT.md §2)', () => {
  it('routes > 90 to the queue and the rest to the file at the default threshold', () => {
    const rules = thresholdRuleSet(90);
    for (let value = 0; value <= 100; value++) {
      const decision = rules.route(rec(value));
      expect(decision.sinks).toEqual([value > 90 ? 'queue' : 'file']);
      expect(decision.rule).toBe(value > 90 ? 'above-threshold' : 'default');
      expect(decision.version).toBe(rules.version);
    }
  });

  it('with threshold -1 sends everything to the queue, with 100 everything to the file', () => {
    for (let value = 0; value <= 100; value++) {
      expect(thresholdRuleSet(-1).route(rec(value)).route).toBe('queue');
      expect(thresholdRuleSet(100).route(rec(value)).route).toBe('file');
    }
  });

  it('has a version that depends on the threshold only', () => {
    expect(thresholdRuleSet(90).version).toBe(thresholdRuleSet(90).version);
    expect(thresholdRuleSet(90).version).not.toBe(thresholdRuleSet(80).version);
    expect(thresholdRuleSet(90).version).toMatch(/^[0-9a-f]{12}$/);
  });
});

describe('rule sets as data', () => {
  const ruleSet = {
    name: 'mixed',
    rules: [
      { name: 'noise', when: { field: 'randomValue', op: 'lt', value: 5 }, route: 'drop', reason: 'below-5' },
      {
        name: 'audit',
        when: {
          all: [
            { field: 'randomValue', op: 'gte', value: 95 },
            { field: 'hashValue', op: 'gt', value: '99' },
          ],
        },
        route: 'both',
      },
      { name: 'high', when: { any: [{ field: 'randomValue', op: 'gt', value: 90 }] }, route: 'queue' },
      { name: 'gen-2', when: { field: 'source', op: 'in', value: ['gen-2', 'gen-3'] }, route: 'queue' },
      { name: 'not-even', when: { not: { field: 'seq', op: 'in', value: [2, 4, 6] } }, route: 'file' },
    ],
    default: 'queue',
  };

  it('applies the first matching rule, in order, and the default otherwise', () => {
    const rules = compileRuleSet(ruleSet);
    expect(rules.route(rec(3))).toMatchObject({ rule: 'noise', route: 'drop', sinks: [], reason: 'below-5' });
    const high = rec(97, { hashValue: 'ff' });
    expect(rules.route(high)).toMatchObject({ rule: 'audit', route: 'both', sinks: ['queue', 'file'] });
    expect(rules.route(rec(97, { hashValue: '0a' }))).toMatchObject({ rule: 'high', route: 'queue' });
    expect(rules.route(rec(50, { source: 'gen-2' }))).toMatchObject({ rule: 'gen-2' });
    expect(rules.route(rec(50, { seq: 3 }))).toMatchObject({ rule: 'not-even', route: 'file' });
    expect(rules.route(rec(50, { seq: 4 }))).toMatchObject({ rule: 'default', route: 'queue' });
  });

  it('gives the same version to the same rules whatever the key order or spacing', () => {
    const reordered: unknown = JSON.parse(
      JSON.stringify({ default: ruleSet.default, rules: ruleSet.rules, name: ruleSet.name }),
    );
    expect(compileRuleSet(reordered).version).toBe(compileRuleSet(ruleSet).version);
    expect(parseRuleSet(JSON.stringify(ruleSet, null, 4)).version).toBe(compileRuleSet(ruleSet).version);
  });

  it('matches a plain evaluation of the same threshold for any record (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1, max: 100 }), fc.integer({ min: 0, max: 100 }), (threshold, value) => {
        const rules = compileRuleSet({
          rules: [{ name: 't', when: { field: 'randomValue', op: 'gt', value: threshold }, route: 'queue' }],
          default: 'file',
        });
        return rules.route(rec(value)).route === (value > threshold ? 'queue' : 'file');
      }),
    );
  });
});

describe('a bad rule set is refused with every problem named', () => {
  it('refuses text that is not JSON', () => {
    expect(() => parseRuleSet('{"rules": [')).toThrow(/not valid JSON/);
  });

  it.each([
    ['no rules', { default: 'file' }, /rules/],
    ['an unknown route', { rules: [], default: 'trash' }, /default/],
    ['drop as default', { rules: [], default: 'drop' }, /default/],
    [
      'an unknown field',
      { rules: [{ name: 'a', when: { field: 'price', op: 'gt', value: 1 }, route: 'queue' }], default: 'file' },
      /field/,
    ],
    [
      'an unknown operator',
      { rules: [{ name: 'a', when: { field: 'seq', op: 'like', value: 1 }, route: 'queue' }], default: 'file' },
      /op/,
    ],
    [
      'a string compared with a number field',
      {
        rules: [{ name: 'a', when: { field: 'randomValue', op: 'gt', value: '90' }, route: 'queue' }],
        default: 'file',
      },
      /randomValue is compared with a number/,
    ],
    [
      '"in" without an array',
      { rules: [{ name: 'a', when: { field: 'source', op: 'in', value: 'x' }, route: 'queue' }], default: 'file' },
      /needs an array/,
    ],
    [
      'a drop without a reason',
      { rules: [{ name: 'a', when: { field: 'seq', op: 'gt', value: 1 }, route: 'drop' }], default: 'file' },
      /reason/,
    ],
    [
      'duplicate rule names',
      {
        rules: [
          { name: 'a', when: { field: 'seq', op: 'gt', value: 1 }, route: 'queue' },
          { name: 'a', when: { field: 'seq', op: 'gt', value: 2 }, route: 'file' },
        ],
        default: 'file',
      },
      /duplicate rule name "a"/,
    ],
    ['an extra key', { rules: [], default: 'file', threshold: 3 }, /threshold|Unrecognized/i],
  ])('refuses %s', (_label, input, expected) => {
    const problems = problemsOf(input);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toMatch(expected);
  });

  it('refuses conditions nested deeper than 8 levels', () => {
    let when: unknown = { field: 'seq', op: 'gt', value: 1 };
    for (let i = 0; i < 9; i++) when = { not: when };
    expect(problemsOf({ rules: [{ name: 'deep', when, route: 'queue' }], default: 'file' }).join()).toMatch(/deeper/);
  });
});
