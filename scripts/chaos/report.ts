import type { FaultObservation } from './pipeline';
import type { DirectReconciliation, Reconciliation } from './reconcile';

const STATE_NAMES = ['closed', 'half-open', 'open'];

/** A plain text table: a header row, a rule, the rows; columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function seconds(value: number | undefined): string {
  return value === undefined ? '-' : `${value.toFixed(1)} s`;
}

function breakers(observation: FaultObservation): string {
  const seen = [...observation.breakers.entries()]
    .filter(([, state]) => state > 0)
    .map(([key, state]) => `${key.split('/')[1] ?? key}:${STATE_NAMES[state] ?? String(state)}`);
  return seen.length > 0 ? seen.join(' ') : 'all closed';
}

function paused(observation: FaultObservation): string {
  const flat = observation.flatMs.generator / 1000;
  const text = flat >= 2 ? `yes (${flat.toFixed(1)} s)` : 'no';
  return observation.generatorDown ? `down; ${text}` : text;
}

export function faultTable(observations: readonly FaultObservation[]): string {
  const rows = observations.map((o, i) => {
    const d = o.deltas;
    const notes: string[] = [];
    if ((d.resent ?? 0) > 0) notes.push(`resent ${d.resent}`);
    if ((d.handoffFailed ?? 0) > 0) notes.push(`handoff failed ${d.handoffFailed}`);
    const dropped = (d.pgDuplicate ?? 0) + (d.mongoDuplicate ?? 0);
    if (dropped > 0) notes.push(`writer dups dropped ${dropped}`);
    if (o.notReady.size > 0) notes.push(`not ready: ${[...o.notReady].join(',')}`);
    if (o.recoverS === undefined) notes.push('NOT RECOVERED');
    if (o.errors.length > 0) notes.push('errors: see below');
    return [
      String(i + 1),
      o.name,
      `+${o.startS.toFixed(0)} s`,
      seconds(o.outageS),
      seconds(o.recoverS),
      breakers(o),
      paused(o),
      `${(o.flatMs.pg / 1000).toFixed(1)} / ${(o.flatMs.mongo / 1000).toFixed(1)} s`,
      String(o.maxQueueDepth),
      notes.join('; '),
    ];
  });
  const header = ['#', 'fault', 'start', 'outage', 'recovered', 'breakers seen (worst state)', 'generator paused'];
  const errors = observations.flatMap((o, i) => o.errors.map((e) => `  fault ${i + 1} (${o.name}): ${e}`));
  return [
    table([...header, 'writers idle pg/mongo', 'max ready', 'notes'], rows),
    ...(errors.length > 0 ? ['errors:', ...errors] : []),
  ].join('\n');
}

function list(values: readonly number[], max = 20): string {
  if (values.length === 0) return 'none';
  const shown = values.slice(0, max).join(', ');
  return values.length > max ? `${shown}, … (${values.length} in all)` : shown;
}

export interface Totals {
  readonly generated: number;
  readonly acknowledged: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly misnested: number;
  readonly dlq: number;
}

/** Both sources together: the generator's and the direct stream (acknowledged = confirmed). */
export function totalsOf(result: Reconciliation, direct: DirectReconciliation, dlq: number): Totals {
  return {
    generated: result.generated + direct.confirmed,
    acknowledged: result.acknowledged + direct.confirmed,
    lost: result.lost + direct.lost + direct.unexpected,
    duplicated: result.duplicatedTotal + direct.duplicatedTotal,
    misnested: result.misnested + direct.misnested,
    dlq,
  };
}

export function directReport(direct: DirectReconciliation): string {
  const lines = [
    `source ${direct.source} (published straight onto the exchange): confirmed ${direct.confirmed}; ` +
      `postgres ${direct.inPostgres}, mongo ${direct.inMongo}; lost ${direct.lost}; not published but stored ${direct.unexpected}`,
    `duplicated: postgres ${list(direct.duplicated.postgres)}; mongo ${list(direct.duplicated.mongo)}`,
    `misnested documents: ${direct.misnested}${direct.misnestedExamples.length > 0 ? ':' : ''}`,
    ...direct.misnestedExamples.map((example) => `  ${example}`),
    `only in PostgreSQL: ${list(direct.onlyInPostgres)}; only in MongoDB: ${list(direct.onlyInMongo)}`,
  ];
  return lines.join('\n');
}

export function reconciliationReport(result: Reconciliation, threshold: number): string {
  const lines: string[] = [];
  lines.push(
    `source ${result.source}: max seq ${result.maxSeq}; stored distinct ${result.storedDistinct} ` +
      `(files ${result.inFiles}, postgres ${result.inPostgres}, mongo ${result.inMongo}); threshold ${threshold}`,
  );
  lines.push('');
  lines.push('generator lifetimes (counters reset at each start; acknowledged = deliver/acked of that lifetime):');
  lines.push(
    table(
      ['#', 'seqs', 'end', 'generated', 'acknowledged', 'stored', 'lost', 'gaps in acked prefix', 'unacked at kill'],
      result.lifetimes.map((l) => [
        String(l.index),
        `${l.firstSeq}..${l.lastSeq}`,
        l.end,
        String(l.generated),
        String(l.acknowledged),
        String(l.stored),
        String(l.lost),
        String(l.unexplainedGaps.length),
        String(l.explainedGaps),
      ]),
    ),
  );
  lines.push('');
  lines.push(`lost (per lifetime: acknowledged − stored in its range): ${result.lost}`);
  lines.push(`lost (global: acknowledged − distinct seqs in files ∪ PostgreSQL): ${result.lostGlobal}`);
  lines.push(`gaps inside acknowledged prefixes: ${list(result.unexplainedGaps)}`);
  lines.push(
    `duplicated: files ${list(result.duplicated.files)}; postgres ${list(result.duplicated.postgres)}; ` +
      `mongo ${list(result.duplicated.mongo)}`,
  );
  lines.push(`misnested documents: ${result.misnested}${result.misnestedExamples.length > 0 ? ':' : ''}`);
  for (const example of result.misnestedExamples) lines.push(`  ${example}`);
  lines.push(`only in PostgreSQL: ${list(result.onlyInPostgres)}; only in MongoDB: ${list(result.onlyInMongo)}`);
  lines.push(`misrouted: ${list(result.misrouted)}; torn or unreadable file lines: ${result.fileBadLines}`);
  lines.push(`corrupt or inconsistent records: ${result.corrupt.length === 0 ? 'none' : result.corrupt.length}`);
  for (const text of result.corrupt.slice(0, 10)) lines.push(`  ${text}`);
  return lines.join('\n');
}

export function totalsReport(totals: Totals): string {
  return table(
    ['generated', 'acknowledged', 'lost', 'duplicated', 'misnested', 'dlq'],
    [
      [
        String(totals.generated),
        String(totals.acknowledged),
        String(totals.lost),
        String(totals.duplicated),
        String(totals.misnested),
        String(totals.dlq),
      ],
    ],
  );
}
