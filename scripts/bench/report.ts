import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_NAMES } from '../kit/app-process';
import type { ProfileSummary } from './cpuprofile';
import type { StepResult, TimelinePoint } from './pipeline';
import type { BaselineResult } from './baseline';
import type { HistoryEntry } from './history';
import { LATENCY_BOUNDS_MS, type SinkLatency } from './latency';
import type { RawResult } from './raw';
import type { ScaleFigure, ScaleStep } from './scale';

export interface Target {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  /** undefined: not measured in this run. */
  readonly pass: boolean | undefined;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly options: Record<string, unknown>;
  readonly machine: { readonly cpus: number; readonly node: string; readonly memoryMb: number };
  /** The commit of the measured build, when known. */
  readonly commit?: string;
  readonly raw: RawResult[];
  readonly slowestRaw?: { readonly stage: string; readonly recordsPerSecond: number };
  /** The same-box baseline pipeline (baseline.ts): the ratio's denominator. */
  readonly baseline?: BaselineResult;
  readonly steps: StepResult[];
  readonly maxQueueRate?: number;
  /** Why the lowest failed step of the search failed (undefined: no step failed, the maximum is a lower bound). */
  readonly maxQueueLimit?: string[];
  readonly maxMixRate?: number;
  readonly maxMixLimit?: string[];
  /** The key figures of every full run so far, this one last (docs/bench-history.json). */
  history?: HistoryEntry[];
  readonly pipelineRecordsPerSecond?: number;
  readonly ratio?: number;
  readonly targets: Target[];
  readonly profiles: ProfileSummary[];
  readonly timeline: TimelinePoint[];
  /** All-to-queue maximum with 1, 2, 3 writers per sink on the 3-node cluster (scale.ts). */
  readonly scale?: ScaleFigure[];
  readonly scaleSteps?: ScaleStep[];
  readonly valid: boolean;
  readonly problems: string[];
}

const f0 = (value: number | undefined): string =>
  value === undefined || !Number.isFinite(value) ? '-' : Math.round(value).toLocaleString('en-US');
const f1 = (value: number | undefined): string =>
  value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(1);
const f2 = (value: number | undefined): string =>
  value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(2);

function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function rawTable(raw: readonly RawResult[]): string {
  return table(
    ['stage', 'records/s', 'messages/s', 'batching'],
    raw.map((r) => [
      r.stage,
      r.error ? 'FAILED' : f0(r.recordsPerSecond),
      r.error ? '-' : f0(r.messagesPerSecond),
      r.error ?? r.batching,
    ]),
  );
}

function latencyText(latency: SinkLatency | undefined): string {
  const p = latency?.percentiles;
  return p ? `${f0(p.p50)} / ${f0(p.p95)} / ${f0(p.p99)}` : '-';
}

export function stepsTable(steps: readonly StepResult[]): string {
  return table(
    [
      'phase',
      'target/s',
      'generated/s',
      'file/s',
      'pg/s',
      'mongo/s',
      'sustainable',
      'check',
      'pg e2e p50/p95/p99 ms',
      'mongo e2e p50/p95/p99 ms',
      'CPU % gen/filter/db/mongo',
      'RSS MB gen/filter/db/mongo',
    ],
    steps.map((s) =>
      // No figure from a step that lost or duplicated records.
      !s.valid
        ? [s.phase, f0(s.targetRate), '-', '-', '-', '-', '-', 'INVALID', '-', '-', '-', '-']
        : [
            s.phase,
            f0(s.targetRate),
            f0(s.generatedPerS),
            f0(s.toFilePerS),
            f0(s.postgresPerS),
            f0(s.mongoPerS),
            s.sustainable ? 'yes' : 'no',
            s.valid ? 'ok' : 'INVALID',
            latencyText(s.latency?.postgres),
            latencyText(s.latency?.mongo),
            APP_NAMES.map((a) => f1(s.apps[a].cpuPercent)).join(' / '),
            APP_NAMES.map((a) => f0(s.apps[a].rssMaxMb)).join(' / '),
          ],
    ),
  );
}

export function loopLagTable(steps: readonly StepResult[]): string {
  return table(
    ['phase', 'target/s', ...APP_NAMES.map((a) => `${a} lag p99 mean/max ms`)],
    steps
      .filter((s) => s.apps.filter.loopLagP99MeanMs !== undefined)
      .map((s) => [
        s.phase,
        f0(s.targetRate),
        ...APP_NAMES.map((a) => `${f1(s.apps[a].loopLagP99MeanMs)} / ${f1(s.apps[a].loopLagP99MaxMs)}`),
      ]),
  );
}

export function machineTable(steps: readonly StepResult[]): string {
  return table(
    [
      'phase',
      'target/s',
      'machine busy %',
      'apps %',
      'rabbitmq %',
      'postgres %',
      'ferretdb %',
      'ferretdb pg %',
      'other %',
      'load avg',
    ],
    steps
      .filter((s) => s.machine !== undefined)
      .map((s) => {
        const m = s.machine;
        return [
          s.phase,
          f0(s.targetRate),
          f0(m?.busyPercent),
          f0(m?.appsPercent),
          f0(m?.services.rabbitmq),
          f0(m?.services.postgres),
          f0(m?.services.ferretdb),
          f0(m?.services['ferretdb-postgres']),
          f0(m?.otherPercent),
          f1(m?.loadAverage),
        ];
      }),
  );
}

export function batchingTable(steps: readonly StepResult[]): string {
  return table(
    [
      'phase',
      'target/s',
      'records/frame (gen)',
      'records/message (filter)',
      'records/INSERT (db)',
      'records/write (mongo)',
      'publish ms',
      'file write ms',
      'pg write ms',
      'mongo write ms',
    ],
    steps.map((s) => [
      s.phase,
      f0(s.targetRate),
      f1(s.batching.recordsPerFrame),
      f1(s.batching.recordsPerMessage),
      f1(s.batching.postgresRecordsPerInsert),
      f1(s.batching.mongoRecordsPerWrite),
      f1(s.batching.publishMs),
      f1(s.batching.fileWriteMs),
      f1(s.batching.postgresWriteMs),
      f1(s.batching.mongoWriteMs),
    ]),
  );
}

export function targetsTable(targets: readonly Target[]): string {
  return table(
    ['target', 'required', 'measured', 'result'],
    targets.map((t) => [
      t.name,
      t.target,
      t.measured,
      t.pass === undefined ? 'not measured' : t.pass ? 'PASS' : 'FAIL',
    ]),
  );
}

export function formatReport(report: BenchReport): string {
  const parts: string[] = [`build ${report.commit ?? 'unknown'}`, ''];
  if (report.raw.length > 0) parts.push('Raw stage limits', rawTable(report.raw), '');
  if (report.steps.length > 0) {
    parts.push('Pipeline steps', stepsTable(report.steps), '');
    parts.push('Batching seen in the pipeline', batchingTable(report.steps), '');
    parts.push('CPU of the machine (percent of one core; 100% per core)', machineTable(report.steps), '');
    parts.push('Event-loop delay (nodejs_eventloop_lag_p99_seconds per scrape)', loopLagTable(report.steps), '');
  }
  const limit = (name: string, rate: number | undefined, reasons: string[] | undefined): string =>
    `${name}: ${rate === undefined ? 'none sustained' : `${f0(rate)} records/s`}; ` +
    (reasons ? `the next step failed first on: ${reasons.join('; ')}` : 'no step failed (a lower bound)');
  if (report.steps.length > 0) {
    parts.push(
      'Maximum sustained rates',
      limit('  all to the queue', report.maxQueueRate, report.maxQueueLimit),
      limit('  default mix', report.maxMixRate, report.maxMixLimit),
      '',
    );
  }
  if (report.ratio !== undefined) {
    parts.push(
      `ratio = ${f0(report.pipelineRecordsPerSecond)} records/s (pipeline, stored in both databases) / ` +
        `${f0(report.baseline?.recordsPerSecond)} records/s (baseline pipeline) = ${f2(report.ratio)}; ` +
        `slowest raw stage alone: ${report.slowestRaw?.stage ?? '?'} ${f0(report.slowestRaw?.recordsPerSecond)} records/s`,
      '',
    );
  }
  if (report.scale && report.scale.length > 0) {
    parts.push(
      'Scale figure: all to the queue, partitioned (8 per sink), 3-node cluster, 4 generators, 1 filter',
      table(
        ['writers per sink', 'max sustained', 'PostgreSQL', 'MongoDB', 'machine busy', 'next step failed on'],
        report.scale.map((figure) => [
          String(figure.writers),
          figure.best ? `${f0(figure.best.targetRate)} records/s` : 'none',
          figure.best ? `${f0(figure.best.postgresPerS)}/s` : '-',
          figure.best ? `${f0(figure.best.mongoPerS)}/s` : '-',
          figure.best?.machineBusyPercent !== undefined ? `${f0(figure.best.machineBusyPercent)}% of one core` : '-',
          figure.limit,
        ]),
      ),
      '',
    );
  }
  parts.push('Targets', targetsTable(report.targets));
  if (report.problems.length > 0) parts.push('', 'INVALID:', ...report.problems.map((p) => `  - ${p}`));
  return parts.join('\n');
}

// ------------------------------------------------------------------ HTML

const escape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd'];

interface Series {
  readonly name: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

function lineChart(title: string, xLabel: string, yLabel: string, series: readonly Series[]): string {
  const width = 900;
  const height = 320;
  const m = { left: 70, right: 20, top: 30, bottom: 45 };
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return '';
  const xMin = Math.min(...all.map((p) => p[0]));
  const xMax = Math.max(xMin + 1, ...all.map((p) => p[0]));
  const yMax = Math.max(1, ...all.map((p) => p[1])) * 1.05;
  const x = (v: number): number => m.left + ((v - xMin) / (xMax - xMin)) * (width - m.left - m.right);
  const y = (v: number): number => height - m.bottom - (v / yMax) * (height - m.top - m.bottom);
  const ticks = Array.from({ length: 6 }, (_, i) => (yMax * i) / 5);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img">`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-weight="bold">${escape(title)}</text>`,
    ...ticks.map(
      (t) =>
        `<line x1="${m.left}" x2="${width - m.right}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>` +
        `<text x="${m.left - 6}" y="${y(t) + 4}" text-anchor="end" font-size="11">${f0(t)}</text>`,
    ),
    `<text x="${width / 2}" y="${height - 8}" text-anchor="middle" font-size="12">${escape(xLabel)}</text>`,
    `<text x="14" y="${height / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${height / 2})">${escape(yLabel)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = xMin + ((xMax - xMin) * i) / 5;
    out.push(`<text x="${x(v)}" y="${height - m.bottom + 16}" text-anchor="middle" font-size="11">${f0(v)}</text>`);
  }
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] ?? '#000';
    const path = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
    out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    out.push(
      `<rect x="${m.left + 10 + i * 170}" y="${m.top}" width="12" height="12" fill="${color}"/>` +
        `<text x="${m.left + 26 + i * 170}" y="${m.top + 11}" font-size="12">${escape(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

function barChart(title: string, labels: readonly string[], groups: readonly Series[]): string {
  const width = 900;
  const height = 300;
  const m = { left: 60, right: 20, top: 45, bottom: 45 };
  const yMax = Math.max(1, ...groups.flatMap((g) => g.points.map((p) => p[1])));
  const slot = (width - m.left - m.right) / Math.max(1, labels.length);
  const barWidth = (slot * 0.8) / Math.max(1, groups.length);
  const y = (v: number): number => height - m.bottom - (v / yMax) * (height - m.top - m.bottom);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img">`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-weight="bold">${escape(title)}</text>`,
    `<line x1="${m.left}" x2="${width - m.right}" y1="${y(0)}" y2="${y(0)}" stroke="#888"/>`,
    `<text x="${m.left - 6}" y="${y(yMax) + 4}" text-anchor="end" font-size="11">${f0(yMax)}%</text>`,
  ];
  labels.forEach((label, i) => {
    out.push(
      `<text x="${m.left + slot * i + slot / 2}" y="${height - m.bottom + 16}" text-anchor="middle" font-size="11">${escape(label)}</text>`,
    );
  });
  groups.forEach((group, g) => {
    const color = COLORS[g % COLORS.length] ?? '#000';
    for (const [i, value] of group.points) {
      const x = m.left + slot * i + slot * 0.1 + barWidth * g;
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y(value).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${(y(0) - y(value)).toFixed(1)}" fill="${color}"><title>${escape(group.name)}: ${f1(value)}%</title></rect>`,
      );
    }
    out.push(
      `<rect x="${m.left + 10 + g * 260}" y="28" width="12" height="12" fill="${color}"/>` +
        `<text x="${m.left + 26 + g * 260}" y="39" font-size="12">${escape(group.name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

function htmlTable(text: string): string {
  const rows = text.split('\n').filter((line) => line.startsWith('|') && !line.startsWith('|-'));
  const cells = (line: string): string[] =>
    line
      .slice(1, -1)
      .split(' | ')
      .map((cell) => cell.trim());
  const [head, ...body] = rows;
  if (head === undefined) return '';
  return (
    `<table><thead><tr>${cells(head)
      .map((c) => `<th>${escape(c)}</th>`)
      .join('')}</tr></thead><tbody>` +
    body
      .map(
        (row) =>
          `<tr>${cells(row)
            .map(
              (c) =>
                `<td class="${c === 'FAIL' || c === 'INVALID' ? 'bad' : c === 'PASS' ? 'good' : ''}">${escape(c)}</td>`,
            )
            .join('')}</tr>`,
      )
      .join('') +
    '</tbody></table>'
  );
}

function latencyCharts(steps: readonly StepResult[]): string {
  const charts: string[] = [];
  const labels = [...LATENCY_BOUNDS_MS.map((b) => `≤${b}`), `>${LATENCY_BOUNDS_MS.at(-1) ?? ''}`];
  for (const step of steps) {
    if (step.phase !== 'fixed-1000' && !(step.phase === 'max-queue' && step.sustainable)) continue;
    const groups: Series[] = [];
    for (const [name, sink] of [
      ['PostgreSQL', step.latency?.postgres],
      ['MongoDB', step.latency?.mongo],
    ] as const) {
      const total = sink?.counts.reduce((sum, c) => sum + c, 0) ?? 0;
      if (sink && total > 0) groups.push({ name, points: sink.counts.map((c, i) => [i, (c / total) * 100] as const) });
    }
    if (groups.length === 0) continue;
    const title = `End-to-end latency, exact per record, ${step.phase} at ${f0(step.targetRate)} records/s (ms, % of records)`;
    charts.push(barChart(title, labels, groups));
  }
  return charts.join('\n');
}

/** The trend over the full runs so far: run number on the x axis, the table names each run's commit. */
function historyCharts(history: readonly HistoryEntry[]): string {
  if (history.length === 0) return '';
  const series = (name: string, value: (e: HistoryEntry) => number | undefined): Series => ({
    name,
    points: history.flatMap((e, i) => {
      const v = value(e);
      return v === undefined || !Number.isFinite(v) ? [] : [[i + 1, v] as const];
    }),
  });
  const rows = history.map((e, i) => [
    String(i + 1),
    e.at.slice(0, 16),
    (e.commit ?? '?').slice(0, 10),
    f0(e.maxQueue),
    f0(e.baseline),
    f2(e.ratio),
    f0(e.maxMix),
    `${f0(e.p99PostgresMs)} / ${f0(e.p99MongoMs)}`,
    f2(e.idleCpuPercent),
    f0(e.rssMb),
    e.valid ? 'valid' : 'INVALID',
  ]);
  const headers = ['run', 'at', 'commit', 'max queue/s', 'baseline/s', 'ratio', 'max mix/s', 'p99 pg/mongo ms'];
  return `<h2>Trend (docs/bench-history.json)</h2>
${lineChart('Maximum sustained rates per run', 'run', 'records/s', [
  series('all to the queue', (e) => e.maxQueue),
  series('baseline pipeline', (e) => e.baseline),
  series('default mix', (e) => e.maxMix),
])}
${lineChart('p99 end to end at 1,000 records/s per run (exact)', 'run', 'ms', [
  series('PostgreSQL', (e) => e.p99PostgresMs),
  series('MongoDB', (e) => e.p99MongoMs),
])}
${htmlTable(table([...headers, 'idle CPU % (max)', 'RSS MB (max)', 'check'], rows))}`;
}

export function renderHtml(report: BenchReport): string {
  const timeline = report.timeline;
  const throughput = lineChart('Throughput over time (all pipeline steps)', 'seconds since start', 'records/s', [
    { name: 'generated', points: timeline.map((p) => [p.t, p.generatedPerS] as const) },
    { name: 'stored PostgreSQL', points: timeline.map((p) => [p.t, p.postgresPerS] as const) },
    { name: 'stored MongoDB', points: timeline.map((p) => [p.t, p.mongoPerS] as const) },
    { name: 'file sink', points: timeline.map((p) => [p.t, p.filePerS] as const) },
  ]);
  const depth = lineChart('Queue depth (ready messages)', 'seconds since start', 'messages', [
    { name: 'postgres queue', points: timeline.map((p) => [p.t, p.depthPostgres ?? 0] as const) },
    { name: 'mongo queue', points: timeline.map((p) => [p.t, p.depthMongo ?? 0] as const) },
  ]);
  const profiles = report.profiles
    .map(
      (p) =>
        `<h3>${escape(p.file)}</h3><p>${f1(p.totalMs / 1000)} s sampled, ${f1(p.busyMs / 1000)} s busy; by area: ${escape(
          p.byArea
            .slice(0, 8)
            .map((a) => `${a.area} ${f1(a.busyPercent)}%`)
            .join(', '),
        )}</p><table><thead><tr><th>self ms</th><th>%</th><th>function</th></tr></thead><tbody>${p.top
          .map((t) => `<tr><td>${f0(t.selfMs)}</td><td>${f1(t.selfPercent)}</td><td>${escape(t.function)}</td></tr>`)
          .join('')}</tbody></table>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dataflow benchmark</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
th { background: #f3f3f3; }
td.bad { background: #fdd; font-weight: bold; }
td.good { background: #dfd; }
svg { display: block; margin: 1em 0; font-family: system-ui, sans-serif; }
</style></head><body>
<h1>dataflow benchmark</h1>
<p>${escape(report.startedAt)} to ${escape(report.finishedAt)}; build ${escape(report.commit ?? 'unknown')}; ${report.machine.cpus} CPUs, ${f0(report.machine.memoryMb)} MB, Node ${escape(report.machine.node)}.
${report.valid ? '' : '<strong>INVALID RUN: ' + escape(report.problems.join('; ')) + '</strong>'}</p>
<h2>Targets</h2>${htmlTable(targetsTable(report.targets))}
${report.ratio !== undefined ? `<p>ratio = ${f0(report.pipelineRecordsPerSecond)} (pipeline) / ${f0(report.baseline?.recordsPerSecond)} (baseline pipeline) = <strong>${f2(report.ratio)}</strong>; slowest raw stage alone: ${escape(report.slowestRaw?.stage ?? '')} ${f0(report.slowestRaw?.recordsPerSecond)} records/s</p>` : ''}
<h2>Raw stage limits</h2>${htmlTable(rawTable(report.raw))}
<h2>Pipeline</h2>${htmlTable(stepsTable(report.steps))}
${throughput}
${depth}
<h2>Latency distribution</h2>
${latencyCharts(report.steps)}
<h2>Batching seen in the pipeline</h2>${htmlTable(batchingTable(report.steps))}
<h2>CPU of the machine (percent of one core)</h2>${htmlTable(machineTable(report.steps))}
<h2>Event-loop delay</h2>${htmlTable(loopLagTable(report.steps))}
<h2>CPU profiles (self time)</h2>${profiles}
${historyCharts(report.history ?? [])}
</body></html>
`;
}

export function writeReport(dir: string, report: BenchReport): void {
  writeFileSync(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, 'report.html'), renderHtml(report));
}
