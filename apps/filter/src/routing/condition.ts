import type { DataRecord } from '@dataflow/contracts';

/**
 * The condition language of routing rules: a comparison of one record field with a constant
 * (`eq ne gt gte lt lte in`), or `all`, `any`, `not` of conditions. Strings compare as plain strings
 * (as the nesting rule compares hashes), numbers as numbers. A condition is checked once, in full,
 * when its rule set is loaded ({@link conditionProblems}), then compiled to a closure
 * ({@link compileCondition}).
 */

const NUMBER_FIELDS = ['seq', 'timestamp', 'randomValue'] as const;
const STRING_FIELDS = ['source', 'hashValue'] as const;
type NumberField = (typeof NUMBER_FIELDS)[number];
type StringField = (typeof STRING_FIELDS)[number];

const COMPARISONS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte'] as const;
const MAX_DEPTH = 8;
const MAX_IN_VALUES = 1000;
/** Most conditions under one `all` or `any`. */
const MAX_PARTS = 200;
export interface Comparison {
  readonly field: NumberField | StringField;
  readonly op: (typeof COMPARISONS)[number] | 'in';
  readonly value: number | string | ReadonlyArray<number | string>;
}
export type Condition =
  | Comparison
  | { readonly all: readonly Condition[] }
  | { readonly any: readonly Condition[] }
  | { readonly not: Condition };

/** A compiled condition. */
export type Predicate = (record: DataRecord) => boolean;

/** A mistake in a condition, at `path` within it. */
export interface ConditionProblem {
  readonly path: Array<string | number>;
  readonly message: string;
}

function isNumberField(field: string): field is NumberField {
  return (NUMBER_FIELDS as readonly string[]).includes(field);
}

const FIELDS: readonly string[] = [...NUMBER_FIELDS, ...STRING_FIELDS];
const OPS: readonly string[] = [...COMPARISONS, 'in'];

/** Every mistake in `condition` (unchecked input), each at its exact place; none for a valid one. */
export function conditionProblems(condition: unknown, depth: number): ConditionProblem[] {
  if (depth > MAX_DEPTH) return [{ path: [], message: `conditions nest deeper than ${MAX_DEPTH} levels` }];
  if (typeof condition !== 'object' || condition === null || Array.isArray(condition)) {
    return [
      { path: [], message: 'a condition is an object: {field, op, value}, {all: [...]}, {any: [...]} or {not: {...}}' },
    ];
  }
  const keys = Object.keys(condition);
  const c = condition as Record<string, unknown>;
  for (const combinator of ['all', 'any'] as const) {
    if (!(combinator in c)) continue;
    if (keys.length !== 1) return [{ path: [], message: `"${combinator}" stands alone in its condition` }];
    const parts = c[combinator];
    if (!Array.isArray(parts) || parts.length === 0 || parts.length > MAX_PARTS) {
      return [{ path: [combinator], message: `"${combinator}" needs 1 to ${MAX_PARTS} conditions` }];
    }
    return parts.flatMap((part: unknown, i) => prefix([combinator, i], conditionProblems(part, depth + 1)));
  }
  if ('not' in c) {
    if (keys.length !== 1) return [{ path: [], message: '"not" stands alone in its condition' }];
    return prefix(['not'], conditionProblems(c.not, depth + 1));
  }
  const extra = keys.find((key) => key !== 'field' && key !== 'op' && key !== 'value');
  if (extra !== undefined) return [{ path: [extra.slice(0, 32)], message: 'unknown key in a condition' }];
  const { field, op, value } = c;
  if (typeof field !== 'string' || !FIELDS.includes(field)) {
    return [{ path: ['field'], message: `field must be one of ${FIELDS.join(', ')}` }];
  }
  if (typeof op !== 'string' || !OPS.includes(op))
    return [{ path: ['op'], message: `op must be one of ${OPS.join(', ')}` }];
  const expected = isNumberField(field) ? 'number' : 'string';
  const fits = (v: unknown): boolean =>
    expected === 'number' ? typeof v === 'number' && Number.isFinite(v) : typeof v === 'string' && v.length <= 256;
  if (op === 'in') {
    if (!Array.isArray(value) || value.length === 0 || value.length > MAX_IN_VALUES) {
      return [{ path: ['value'], message: `"in" needs an array of 1 to ${MAX_IN_VALUES} values` }];
    }
    if (!value.every(fits)) {
      return [{ path: ['value'], message: `every value compared with ${field} must be a ${expected}` }];
    }
    return [];
  }
  if (Array.isArray(value)) return [{ path: ['value'], message: `"${op}" compares with one value, not an array` }];
  if (!fits(value)) return [{ path: ['value'], message: `${field} is compared with a ${expected}` }];
  return [];
}

function prefix(path: Array<string | number>, problems: ConditionProblem[]): ConditionProblem[] {
  return problems.map((p) => ({ path: [...path, ...p.path], message: p.message }));
}

/** Turns a checked condition into a closure: no interpretation per record. */
export function compileCondition(condition: Condition): Predicate {
  if ('all' in condition) {
    const parts = condition.all.map(compileCondition);
    return (record) => parts.every((part) => part(record));
  }
  if ('any' in condition) {
    const parts = condition.any.map(compileCondition);
    return (record) => parts.some((part) => part(record));
  }
  if ('not' in condition) {
    const inner = compileCondition(condition.not);
    return (record) => !inner(record);
  }
  const field = condition.field;
  if (condition.op === 'in') {
    const values = new Set<number | string>(condition.value as Array<number | string>);
    return (record) => values.has(record[field]);
  }
  const value = condition.value as number | string;
  switch (condition.op) {
    case 'eq':
      return (record) => record[field] === value;
    case 'ne':
      return (record) => record[field] !== value;
    case 'gt':
      return (record) => record[field] > value;
    case 'gte':
      return (record) => record[field] >= value;
    case 'lt':
      return (record) => record[field] < value;
    case 'lte':
      return (record) => record[field] <= value;
  }
}
