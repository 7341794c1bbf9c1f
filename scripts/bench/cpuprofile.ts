/**
 * Aggregates a V8 `.cpuprofile` (written by `node --cpu-prof`) by function self time.
 *
 *   node -r ts-node/register/transpile-only scripts/bench/cpuprofile.ts <file.cpuprofile> [top] [from-s to-s]
 *
 * `from-s` and `to-s` restrict it to the samples taken that many seconds after the profile started.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface FunctionTime {
  /** `name (file:line)`; V8's pseudo frames keep their names, e.g. `(garbage collector)`. */
  readonly function: string;
  /** Package or area: a node_modules package name, `app`, `node` (internals) or `v8`. */
  readonly area: string;
  readonly selfMs: number;
  /** Percent of all sampled time, idle included. */
  readonly selfPercent: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly totalMs: number;
  /** Sampled time not idle: what the process was busy with. */
  readonly busyMs: number;
  readonly top: FunctionTime[];
  /** Self time by area (package), busy time only, descending. */
  readonly byArea: Array<{ area: string; selfMs: number; busyPercent: number }>;
}

function areaOf(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : 'v8';
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (module?.[1]) return module[1];
  if (url.startsWith('node:')) return 'node';
  if (url.includes('/dist/')) return 'app';
  return 'other';
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName === '' ? '(anonymous)' : functionName;
  if (url === '') return name;
  const short = url
    .replace(/^file:\/\//, '')
    .replace(/^.*node_modules\//, '')
    .replace(/^.*\/dist\//, 'dist/');
  return `${name} (${short}:${lineNumber + 1})`;
}

/**
 * `window`: only samples between `fromMs` and `toMs` after the profile started (for instance the
 * steady part of a run, without start-up).
 */
export function summarizeProfile(
  file: string,
  top = 15,
  window?: { readonly fromMs: number; readonly toMs: number },
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // Each sample's time is the delta to the next sample.
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    const sinceStartMs = (at - profile.startTime) / 1000;
    if (window && (sinceStartMs < window.fromMs || sinceStartMs > window.toMs)) continue;
    const id = samples[i] as number;
    const delta = deltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, delta));
  }
  const byFunction = new Map<string, { area: string; us: number }>();
  const byArea = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    totalUs += us;
    const name = node.callFrame.functionName;
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    const key = label(node);
    const area = areaOf(node.callFrame.url, name);
    const entry = byFunction.get(key) ?? { area, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  return {
    file: basename(file),
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    top: [...byFunction.entries()]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([fn, { area, us }]) => ({
        function: fn,
        area,
        selfMs: us / 1000,
        selfPercent: (us / Math.max(1, totalUs)) * 100,
      })),
    byArea: [...byArea.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: us / 1000, busyPercent: (us / busyUs) * 100 })),
  };
}

export function formatProfile(summary: ProfileSummary, top = 12): string {
  const lines = [
    `${summary.file}: ${(summary.totalMs / 1000).toFixed(1)} s sampled, ${(summary.busyMs / 1000).toFixed(1)} s busy`,
    `  by area: ${summary.byArea
      .slice(0, 8)
      .map((a) => `${a.area} ${a.busyPercent.toFixed(1)}%`)
      .join(', ')}`,
  ];
  for (const entry of summary.top.slice(0, top)) {
    lines.push(
      `  ${entry.selfMs.toFixed(0).padStart(7)} ms ${entry.selfPercent.toFixed(1).padStart(5)}%  ${entry.function}`,
    );
  }
  return lines.join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: cpuprofile.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  const top = Number(process.argv[3] ?? '20');
  const from = process.argv[4];
  const to = process.argv[5];
  const window =
    from !== undefined && to !== undefined ? { fromMs: Number(from) * 1000, toMs: Number(to) * 1000 } : undefined;
  process.stdout.write(`${formatProfile(summarizeProfile(file, top, window), top)}\n`);
}
