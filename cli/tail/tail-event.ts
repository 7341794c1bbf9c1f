import { ROUTE_NAMES, type RouteName, type TailRecord } from '@dataflow/contracts';

/**
 * A `record` event as the CLI shows it (CONTRACT's tail record); the rule and the rule set's
 * version are shown when present, so an older filter's events still print.
 */
export type ShownRecord = Omit<TailRecord, 'rule' | 'rulesVersion'> &
  Partial<Pick<TailRecord, 'rule' | 'rulesVersion'>>;

export function parseRoutes(text: string): Set<RouteName> {
  const routes = new Set<RouteName>();
  for (const part of text.split(',').map((s) => s.trim())) {
    if (part.length === 0) continue;
    if (!(ROUTE_NAMES as readonly string[]).includes(part))
      throw new Error(`unknown route "${part}" (use ${ROUTE_NAMES.join(', ')})`);
    routes.add(part as RouteName);
  }
  if (routes.size === 0) throw new Error('no route given');
  return routes;
}

/** The `record` event's data, checked; undefined when it is not one. */
export function parseTailRecord(data: string): ShownRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (
    typeof v.source !== 'string' ||
    typeof v.seq !== 'number' ||
    typeof v.timestamp !== 'number' ||
    typeof v.randomValue !== 'number' ||
    typeof v.hashValue !== 'string' ||
    typeof v.route !== 'string' ||
    !(ROUTE_NAMES as readonly string[]).includes(v.route)
  ) {
    return undefined;
  }
  return {
    source: v.source,
    seq: v.seq,
    timestamp: v.timestamp,
    randomValue: v.randomValue,
    hashValue: v.hashValue,
    route: v.route as RouteName,
    ...(typeof v.rule === 'string' ? { rule: v.rule } : {}),
    ...(typeof v.rulesVersion === 'string' ? { rulesVersion: v.rulesVersion } : {}),
  };
}

/** One line per record: time, identity, values, route and the rule that chose it. */
export function formatTailRecord(record: ShownRecord): string {
  const time = Number.isFinite(record.timestamp) ? new Date(record.timestamp).toISOString() : String(record.timestamp);
  const rule =
    record.rule !== undefined
      ? `  rule ${record.rule}${record.rulesVersion !== undefined ? ` (rules ${record.rulesVersion})` : ''}`
      : '';
  return (
    `${time}  ${record.source}:${record.seq}  value ${String(record.randomValue).padStart(3)}  ` +
    `hash ${record.hashValue}  -> ${record.route.padEnd(5)}${rule}`
  );
}

/** The `dropped` event's count, or undefined. */
export function parseDropped(data: string): number | undefined {
  try {
    const value = JSON.parse(data) as { count?: unknown };
    return typeof value.count === 'number' ? value.count : undefined;
  } catch {
    return undefined;
  }
}
