import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PatternResult } from './pattern-run';

export interface AttackReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly commit?: string;
  readonly machine: { readonly cpus: number; readonly node: string; readonly loadAverage: number };
  readonly options: Record<string, unknown>;
  readonly results: PatternResult[];
  readonly allPass: boolean;
}

const f0 = (value: number | undefined): string =>
  value === undefined || !Number.isFinite(value) ? '-' : Math.round(value).toLocaleString('en-US');
const f1 = (value: number | undefined): string =>
  value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(1);
const mark = (pass: boolean): string => (pass ? 'ok' : 'FAIL');

export const COLUMNS = [
  'pattern',
  'RSS growth MB (≤ 64)',
  'heap growth MB',
  'loop delay p99 ms',
  '/health/live p99 ms (≤ 100)',
  'valid records/s (≥ 80 %)',
  'stored exactly once',
];

export function rows(results: readonly PatternResult[]): string[][] {
  return results.map((r) => [
    r.pattern,
    `${f1(r.rssGrowthMb)} ${mark(r.pass.rss)}`,
    f1(r.heapGrowthMb),
    f1(r.loopDelayP99Ms),
    `${f1(r.healthP99Ms)}${r.healthFailures > 0 ? ` (${r.healthFailures} failed)` : ''} ${mark(r.pass.health)}`,
    `${f0(r.validRate)} of ${f0(r.validTarget)} ${mark(r.pass.rate)}`,
    `${r.exactlyOnce ? 'yes' : 'NO'}${r.problems.length > 0 ? ` (${r.problems.join('; ').slice(0, 160)})` : ''}`,
  ]);
}

export function formatTable(results: readonly PatternResult[]): string {
  const all = [COLUMNS, ...rows(results)];
  const widths = COLUMNS.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(COLUMNS), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...all.slice(1).map(line)].join('\n');
}

const escape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A small line chart of one series over the pattern's timeline (t = 0 when the attack starts). */
function chart(result: PatternResult, key: 'rssMb' | 'healthMs', label: string, limit?: number): string {
  const points = result.timeline.filter((p) => p[key] !== undefined) as Array<{ t: number } & Record<string, number>>;
  if (points.length < 2) return '';
  const width = 420;
  const height = 110;
  const t0 = Math.min(...points.map((p) => p.t));
  const t1 = Math.max(...points.map((p) => p.t));
  const top = Math.max(...points.map((p) => p[key] ?? 0), limit ?? 0) * 1.1 || 1;
  const x = (t: number): number => ((t - t0) / Math.max(1, t1 - t0)) * (width - 40) + 35;
  const y = (v: number): number => height - 15 - (v / top) * (height - 25);
  const path = points
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p[key] ?? 0).toFixed(1)}`)
    .join(' ');
  const attackStart = x(0);
  const attackEnd = x(result.seconds * 1000);
  return `<svg width="${width}" height="${height}" role="img" aria-label="${escape(label)}">
  <rect x="${attackStart}" y="5" width="${Math.max(0, attackEnd - attackStart)}" height="${height - 20}" fill="#fde2e2"/>
  ${limit !== undefined ? `<line x1="35" x2="${width - 5}" y1="${y(limit)}" y2="${y(limit)}" stroke="#c00" stroke-dasharray="4 3"/>` : ''}
  <path d="${path}" fill="none" stroke="#1f5fa8" stroke-width="1.5"/>
  <text x="2" y="12" font-size="10">${escape(label)} (max ${f1(top / 1.1)})</text>
</svg>`;
}

export function writeReport(out: string, report: AttackReport): void {
  writeFileSync(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  const table = `<table><thead><tr>${COLUMNS.map((c) => `<th>${escape(c)}</th>`).join('')}</tr></thead><tbody>${rows(
    report.results,
  )
    .map(
      (row) =>
        `<tr>${row.map((cell) => `<td class="${/FAIL|^NO/.test(cell) ? 'fail' : ''}">${escape(cell)}</td>`).join('')}</tr>`,
    )
    .join('')}</tbody></table>`;
  const details = report.results
    .map((r) => {
      const baselineRss = r.baselineRssMb;
      const rssLimitChart = chart(r, 'rssMb', 'filter RSS MB', baselineRss + 64);
      const counters = Object.entries(r.filterCounters)
        .map(([name, value]) => `${escape(name)}: ${f0(value)}`)
        .join(', ');
      return `<section><h2>${escape(r.pattern)}</h2><p>${escape(r.description)}</p>
<p>Baseline RSS ${f1(r.baselineRssMb)} MB, heap ${f1(r.baselineHeapMb)} MB. Attacker: ${escape(
        JSON.stringify(r.attacker ?? {}),
      )}</p><p>Filter counted: ${counters || 'nothing'}</p>
${rssLimitChart}${chart(r, 'healthMs', '/health/live ms', 100)}
${r.problems.length > 0 ? `<p class="fail">${escape(r.problems.join('; '))}</p>` : ''}</section>`;
    })
    .join('\n');
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dataflow attack report</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.fail{color:#b00;font-weight:600}
section{margin-top:1.5em}svg{margin-right:1em;border:1px solid #eee}</style></head><body>
<h1>dataflow under hostile load</h1>
<p>${escape(report.startedAt)} to ${escape(report.finishedAt)}, commit ${escape(report.commit ?? 'unknown')}, ${
    report.machine.cpus
  } CPUs, Node ${escape(report.machine.node)}, load average ${f1(report.machine.loadAverage)}. Each pattern ran ${escape(
    String(report.options.seconds),
  )} s against a fresh filter while a valid generator streamed at ${escape(String(report.options.rate))} records/s.
The shaded band of each chart is the attack; dashed lines are the targets.</p>
${table}
${details}
</body></html>
`;
  writeFileSync(join(out, 'report.html'), html);
}
