/**
 * `npm run attack`: each hostile pattern for --seconds against the four apps while a valid
 * generator streams at --rate records/s. Per pattern: the filter's RSS and heap growth over its
 * baseline, event-loop delay p99, /health/live p99, the valid stream's rate, and whether every
 * valid record was stored exactly once. A benchmark, not a test: it reports and exits 1 when a
 * target is missed, and writes report.json and report.html.
 */
import { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { missingBuilds } from '../kit/app-process';
import { errorText, positiveNumber as positive, runTool } from '../kit/tool';
import { type AttackSettings, type PatternResult, runningApps, runPattern, startWriters } from './pattern-run';
import { PATTERN_NAMES, type PatternName } from './patterns';
import { type AttackReport, formatTable, writeReport } from './report';
import { serviceUrls } from '../kit/services';

const program = new Command()
  .name('attack')
  .description('Hostile load against dataflow: bounded memory, responsive filter, valid stream intact')
  .option('--seconds <n>', 'seconds each pattern runs', positive, 60)
  .option('--patterns <list>', `comma-separated, of: ${PATTERN_NAMES.join(', ')}`, PATTERN_NAMES.join(','))
  .option('--rate <records/s>', 'rate of the valid generator', positive, 1000)
  .option('--sources <n>', 'distinct sources sent by the distinct-sources pattern', positive, 1_000_000)
  .option('--warmup <seconds>', 'seconds of valid stream before the baseline', positive, 5)
  .option('--baseline <seconds>', 'seconds of baseline before each attack', positive, 5)
  .option('--base-port <port>', 'first of four HTTP ports (generator, filter, db-writer, mongo-writer)', positive, 4341)
  .option('--dist <dir>', 'the Nest build output with the four apps', './dist')
  .option('--out <dir>', 'where report.json, report.html and the logs go', './attack-results')
  .option('--rabbitmq-url <url>', 'broker (default RABBITMQ_URL or the contract default)')
  .option('--database-url <url>', 'PostgreSQL (default DATABASE_URL or the contract default)')
  .option('--mongodb-url <url>', 'MongoDB (default MONGODB_URL or the contract default)')
  .option('--keep-data', "keep the valid stream's records and the file sink output", false)
  .option('--filter-node-args <args>', 'extra node arguments for the filter, space-separated', '');

interface CliOptions {
  seconds: number;
  patterns: string;
  rate: number;
  sources: number;
  warmup: number;
  baseline: number;
  basePort: number;
  dist: string;
  out: string;
  rabbitmqUrl?: string;
  databaseUrl?: string;
  mongodbUrl?: string;
  keepData: boolean;
  filterNodeArgs: string;
}

function commit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  program.parse();
  const cli = program.opts<CliOptions>();
  const patterns = cli.patterns.split(',').map((p) => p.trim()) as PatternName[];
  const unknown = patterns.filter((p) => !PATTERN_NAMES.includes(p));
  if (unknown.length > 0) {
    console.error(`attack: unknown pattern ${unknown.join(', ')}; choose from ${PATTERN_NAMES.join(', ')}`);
    process.exit(2);
  }
  const dist = resolve(cli.dist);
  const missing = missingBuilds(dist);
  if (missing.length > 0) {
    console.error(`attack: no build of ${missing.join(', ')} in ${dist}; run npm run build or pass --dist`);
    process.exit(2);
  }
  const out = resolve(cli.out);
  const runDir = join(out, 'runs', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(runDir, { recursive: true });
  const settings: AttackSettings = {
    dist,
    runDir,
    basePort: cli.basePort,
    seconds: cli.seconds,
    warmupS: cli.warmup,
    baselineS: cli.baseline,
    rate: cli.rate,
    sources: cli.sources,
    ...serviceUrls(cli),
    keepData: cli.keepData,
    filterNodeArgs: cli.filterNodeArgs.split(' ').filter((arg) => arg.length > 0),
    log: (line) => console.log(line),
  };
  const startedAt = new Date().toISOString();
  const writers = startWriters(settings);
  runningApps.add(writers.db);
  runningApps.add(writers.mongo);
  const results: PatternResult[] = [];
  try {
    await Promise.all([writers.db.start(), writers.mongo.start()]);
    await Promise.all([writers.db.ready(), writers.mongo.ready()]);
    for (const pattern of patterns) {
      console.log(`pattern ${pattern}`);
      try {
        const result = await runPattern(pattern, settings, writers);
        results.push(result);
        console.log(formatTable([result]).split('\n').slice(2).join('\n'));
      } catch (error) {
        console.log(`  FAILED: ${errorText(error)}`);
      }
    }
  } finally {
    await writers.db.stop();
    await writers.mongo.stop();
  }
  const report: AttackReport = {
    startedAt,
    finishedAt: new Date().toISOString(),
    commit: commit(),
    machine: { cpus: cpus().length, node: process.version, loadAverage: loadavg()[0] ?? 0 },
    options: { ...cli, patterns },
    results,
    allPass:
      results.length === patterns.length &&
      results.every((r) => r.pass.rss && r.pass.health && r.pass.rate && r.pass.exactlyOnce),
  };
  writeReport(out, report);
  console.log('');
  console.log(formatTable(results));
  console.log('');
  console.log(`report: ${join(out, 'report.json')}, ${join(out, 'report.html')}; logs under ${runDir}`);
  process.exitCode = report.allPass ? 0 : 1;
}

runTool('attack', main, () => {
  for (const app of runningApps) app.killNow();
});
