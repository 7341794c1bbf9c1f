import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ROUTE_NAMES, type DataRecord, type RouteName } from '@dataflow/contracts';
import type { RecordRouter, RouteDecision, SinkName } from './record-router';

/**
 * Routing rules as data. A rule set is an ordered list of rules and a default route; the first rule
 * whose condition holds decides a record's route, otherwise the default does:
 *
 * ```json
 * { "name": "seed",
 *   "rules": [{ "name": "high-to-queue", "when": { "field": "randomValue", "op": "gt", "value": 90 }, "route": "queue" }],
 *   "default": "file" }
 * ```
 *
 * Conditions compare one record field with a constant (`eq ne gt gte lt lte in`) or combine
 * conditions (`all`, `any`, `not`). Strings compare as plain strings (as the nesting rule compares
 * hashes), numbers as numbers; a condition whose value has the wrong type for its field is refused
 * when the rule set is checked, not when a record meets it. Routes: `queue`, `file`, `both`, or
 * `drop` with a `reason` (counted). The version of a rule set is a hash of its content, so the same
 * rules always carry the same version wherever they were loaded.
 */

const NUMBER_FIELDS = ['seq', 'timestamp', 'randomValue'] as const;
const STRING_FIELDS = ['source', 'hashValue'] as const;
type NumberField = (typeof NUMBER_FIELDS)[number];
type StringField = (typeof STRING_FIELDS)[number];

const COMPARISONS = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte'] as const;
const MAX_DEPTH = 8;
const MAX_IN_VALUES = 1000;
const MAX_RULES = 200;
const NAME = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'use 1 to 64 letters, digits, ".", "_" or "-"');

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

/** Conditions are checked by {@link conditionProblems}, which names the exact place of a mistake. */
const conditionSchema = z.custom<Condition>(() => true);

const ruleSchema = z
  .strictObject({
    name: NAME,
    when: conditionSchema,
    route: z.enum(ROUTE_NAMES),
    reason: NAME.optional(),
  })
  .refine((rule) => rule.route !== 'drop' || rule.reason !== undefined, {
    message: 'a rule with route "drop" needs a "reason" (it labels the dropped-records metric)',
    path: ['reason'],
  });

export const ruleSetSchema = z
  .strictObject({
    name: NAME.optional(),
    rules: z.array(ruleSchema).max(MAX_RULES),
    default: z.enum(['queue', 'file', 'both']),
  })
  .superRefine((set, context) => {
    const seen = new Set<string>();
    set.rules.forEach((rule, index) => {
      if (seen.has(rule.name) || rule.name === DEFAULT_RULE) {
        context.addIssue({
          code: 'custom',
          path: ['rules', index, 'name'],
          message: `duplicate rule name "${rule.name}"`,
        });
      }
      seen.add(rule.name);
      for (const problem of conditionProblems(rule.when, 1)) {
        context.addIssue({ code: 'custom', path: ['rules', index, 'when', ...problem.path], message: problem.message });
      }
    });
  });

export type RuleSetDocument = z.infer<typeof ruleSetSchema>;

/** Name under which records routed by the default route are counted. */
export const DEFAULT_RULE = 'default';

/** Thrown (and answered with 400 by the API) for a rule set that does not pass the checks. */
export class RuleSetError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid rule set: ${problems.join('; ')}`);
    this.name = 'RuleSetError';
  }
}

/** A checked rule set, ready to route. Immutable: a change is a new instance swapped in whole. */
export class CompiledRuleSet implements RecordRouter {
  readonly version: string;
  readonly name: string;
  private readonly matchers: ReadonlyArray<[Predicate, RouteDecision]>;
  private readonly fallback: RouteDecision;

  constructor(readonly document: RuleSetDocument) {
    this.version = ruleSetVersion(document);
    this.name = document.name ?? 'rules';
    this.matchers = document.rules.map((rule) => [
      compile(rule.when),
      decision(rule.name, rule.route, rule.reason, this.version),
    ]);
    this.fallback = decision(DEFAULT_RULE, document.default, undefined, this.version);
  }

  route(record: DataRecord): RouteDecision {
    for (const [matches, chosen] of this.matchers) if (matches(record)) return chosen;
    return this.fallback;
  }
}

/** Checks `input` (parsed JSON) and compiles it; throws RuleSetError listing every problem. */
export function compileRuleSet(input: unknown): CompiledRuleSet {
  const parsed = ruleSetSchema.safeParse(input);
  if (!parsed.success) {
    throw new RuleSetError(
      parsed.error.issues.map(
        (issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`,
      ),
    );
  }
  return new CompiledRuleSet(parsed.data);
}

/** Parses JSON text, then as {@link compileRuleSet}. */
export function parseRuleSet(text: string): CompiledRuleSet {
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (error) {
    throw new RuleSetError([`not valid JSON: ${error instanceof Error ? error.message : String(error)}`]);
  }
  return compileRuleSet(input);
}

/** The seed's rule (CONTRACT.md §2): `randomValue > threshold` to the queue, the rest to the file. */
export function thresholdRuleSet(threshold: number): CompiledRuleSet {
  return compileRuleSet({
    name: `threshold-${threshold}`,
    rules: [{ name: 'above-threshold', when: { field: 'randomValue', op: 'gt', value: threshold }, route: 'queue' }],
    default: 'file',
  });
}

/** sha256 of the canonical JSON (keys sorted), first 12 hex characters. */
export function ruleSetVersion(document: RuleSetDocument): string {
  return createHash('sha256').update(canonicalJson(document)).digest('hex').slice(0, 12);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const SINKS: Record<RouteName, readonly SinkName[]> = {
  queue: ['queue'],
  file: ['file'],
  both: ['queue', 'file'],
  drop: [],
};

function decision(rule: string, route: RouteName, reason: string | undefined, version: string): RouteDecision {
  return Object.freeze({ rule, route, sinks: SINKS[route], reason, version });
}

type Predicate = (record: DataRecord) => boolean;

interface Problem {
  readonly path: Array<string | number>;
  readonly message: string;
}

function isNumberField(field: string): field is NumberField {
  return (NUMBER_FIELDS as readonly string[]).includes(field);
}

const FIELDS: readonly string[] = [...NUMBER_FIELDS, ...STRING_FIELDS];
const OPS: readonly string[] = [...COMPARISONS, 'in'];

function conditionProblems(condition: unknown, depth: number): Problem[] {
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
    if (!Array.isArray(parts) || parts.length === 0 || parts.length > MAX_RULES) {
      return [{ path: [combinator], message: `"${combinator}" needs 1 to ${MAX_RULES} conditions` }];
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

function prefix(path: Array<string | number>, problems: Problem[]): Problem[] {
  return problems.map((p) => ({ path: [...path, ...p.path], message: p.message }));
}

/** Turns a checked condition into a closure: no interpretation per record. */
function compile(condition: Condition): Predicate {
  if ('all' in condition) {
    const parts = condition.all.map(compile);
    return (record) => parts.every((part) => part(record));
  }
  if ('any' in condition) {
    const parts = condition.any.map(compile);
    return (record) => parts.some((part) => part(record));
  }
  if ('not' in condition) {
    const inner = compile(condition.not);
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
