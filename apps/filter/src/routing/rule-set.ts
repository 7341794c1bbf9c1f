import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ROUTE_NAMES, type DataRecord, type RouteName } from '@dataflow/contracts';
import { compileCondition, conditionProblems, type Condition, type Predicate } from './condition';
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

const MAX_RULES = 200;
const NAME = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'use 1 to 64 letters, digits, ".", "_" or "-"');

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
      compileCondition(rule.when),
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
