/**
 * `npm run bench`: the raw limit of each stage with plain clients, the whole pipeline (maximum
 * sustainable rate with every record to the queue and with the default mix, a fixed 1,000
 * records/s, the default 5 records/s), CPU profiles at the maximum rate, and the key ratio.
 * Every pipeline step is reconciled against the stores; a step that lost or duplicated anything
 * makes the run invalid (no figure from it, exit code 1).
 */
import { Command, Option } from 'commander';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { APP_NAMES, missingBuilds } from '../kit/app-process';
import { formatProfile, ProfileSummary, summarizeProfile } from './cpuprofile';
import { Phase, PipelineOptions, PipelineRun, StepPlan, StepResult, TimelinePoint } from './pipeline';
import { RawOptions, RawResult, runRawStages } from './raw';
import { type BaselineResult, runBaseline } from './baseline';
import { appendHistory, HISTORY_FILE } from './history';
import { BenchReport, formatReport, Target, writeReport } from './report';
import { errorText, positiveNumber as number, runTool } from '../kit/tool';
import { searchMaximum, type SearchResult } from './search';
import { runScaleFigure } from './scale';
import { serviceUrls } from '../kit/services';

interface CliOptions {
  readonly quick: boolean;
  readonly only?: 'raw' | 'pipeline' | 'scale';
  readonly scale: boolean;
  readonly duration?: number;
  readonly dist: string;
  readonly out: string;
  readonly basePort: number;
  readonly startRate: number;
  readonly maxSteps: number;
  readonly profile: boolean;
  readonly keepData: boolean;
  readonly rawConcurrency: number;
  readonly history: boolean;
}

const program = new Command()
  .name('bench')
  .description('Raw stage limits, pipeline throughput, latency, CPU and memory of dataflow')
  .option('--quick', 'short durations (a smoke run of a minute or two)', false)
  .addOption(
    new Option('--only <part>', 'run only the raw stages, the pipeline or the scale figure').choices([
      'raw',
      'pipeline',
      'scale',
    ]),
  )
  .option('--no-scale', 'skip the scale figure (1, 2, 3 writers per sink on the local 3-node cluster)')
  .option('--duration <seconds>', 'seconds of generation per rate step (default 15, quick 5)', number)
  .option('--dist <dir>', 'the Nest build output with the four apps', './dist')
  .option('--out <dir>', 'where report.json, report.html, logs and profiles go', './bench-results')
  .option('--base-port <port>', 'first of four consecutive HTTP ports for the apps', number, 3101)
  .option('--start-rate <records/s>', 'first rate of the maximum-rate search', number, 1000)
  .option('--max-steps <n>', 'rate steps per search at most', number, 14)
  .option('--no-profile', 'skip the --cpu-prof run')
  .option('--keep-data', 'keep the records of the run in PostgreSQL and MongoDB', false)
  .option('--no-history', `do not append this run's figures to ${HISTORY_FILE} (quick and partial runs never do)`)
  .option('--raw-concurrency <n>', 'parallel connections of the raw PostgreSQL and MongoDB stages', number, 4);

const log = (line: string): void => console.log(line);

/** The commit the build directory's checkout is at, when it is inside a git work tree. */
function buildCommit(dist: string): string | undefined {
  try {
    return execFileSync('git', ['-C', resolve(dist, '..'), 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}
const active = new Set<PipelineRun>();

function describe(step: StepResult): string {
  const pg = step.latency?.postgres.percentiles;
  const mongo = step.latency?.mongo.percentiles;
  return (
    `    ${step.phase} ${step.targetRate}/s: generated ${step.generatedPerS.toFixed(0)}/s, ` +
    `pg ${step.postgresPerS.toFixed(0)}/s, mongo ${step.mongoPerS.toFixed(0)}/s, file ${step.toFilePerS.toFixed(0)}/s, ` +
    `p99 pg ${pg ? pg.p99.toFixed(0) : '-'} ms, mongo ${mongo ? mongo.p99.toFixed(0) : '-'} ms, drain ${step.drainS.toFixed(1)} s, ` +
    `${step.sustainable ? 'sustainable' : `not sustainable (${step.unsustainableBecause.join('; ')})`}, ` +
    `${step.valid ? 'check ok' : `INVALID (${step.check.problems.join('; ')})`}`
  );
}

async function runStep(run: PipelineRun, plan: StepPlan, steps: StepResult[]): Promise<StepResult> {
  log(`  step: ${plan.phase} at ${plan.rate} records/s for ${plan.durationS} s`);
  const step = await run.step(plan);
  steps.push(step);
  log(describe(step));
  return step;
}

/** The maximum-rate search of `phase` on `run` (see searchMaximum). */
function search(
  run: PipelineRun,
  phase: Phase,
  startRate: number,
  plan: Omit<StepPlan, 'phase' | 'rate'>,
  maxSteps: number,
  steps: StepResult[],
): Promise<SearchResult<StepResult>> {
  return searchMaximum((rate) => runStep(run, { ...plan, phase, rate }, steps), startRate, maxSteps);
}

async function withRun<T>(
  options: PipelineOptions,
  name: string,
  threshold: number,
  timeline: TimelinePoint[],
  benchStart: number,
  problems: string[],
  body: (run: PipelineRun) => Promise<T>,
  profileDir?: string,
): Promise<T | undefined> {
  const run = new PipelineRun(options, name, threshold, timeline, benchStart, profileDir);
  active.add(run);
  try {
    log(`pipeline ${name}: FILTER_THRESHOLD=${threshold}${profileDir ? ', filter and writers with --cpu-prof' : ''}`);
    await run.start();
    return await body(run);
  } catch (error) {
    problems.push(`${name}: ${errorText(error)}`);
    log(`  FAILED: ${errorText(error)}`);
    return undefined;
  } finally {
    const bad = await run.stop();
    for (const problem of bad) problems.push(`${name}: ${problem}`);
    active.delete(run);
    // The file sink's output was checked step by step; only the logs are kept.
    if (!options.keepData) rmSync(run.outputDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  program.parse();
  const cli = program.opts<CliOptions>();
  const quick = cli.quick;
  const stepS = cli.duration ?? (quick ? 5 : 15);
  const out = resolve(cli.out);
  const dist = resolve(cli.dist);
  const runDir = join(out, 'runs', new Date().toISOString().replace(/[:.]/g, '-'));
  const profileDir = join(out, 'profiles');
  mkdirSync(runDir, { recursive: true });
  const startedAt = new Date();
  const benchStart = Date.now();
  const urls = serviceUrls();
  const problems: string[] = [];
  const steps: StepResult[] = [];
  const timeline: TimelinePoint[] = [];
  const profiles: ProfileSummary[] = [];
  let raw: RawResult[] = [];
  let baseline: BaselineResult | undefined;
  let maxQueue: StepResult | undefined;
  let maxMix: StepResult | undefined;
  let maxQueueFailed: StepResult | undefined;
  let maxMixFailed: StepResult | undefined;

  if (cli.only === undefined || cli.only === 'pipeline') {
    const missing = missingBuilds(dist);
    if (missing.length > 0) {
      console.error(`bench: no build of ${missing.join(', ')} in ${dist}; run npm run build or pass --dist`);
      process.exit(2);
    }
    const options: PipelineOptions = { dist, runDir, basePort: cli.basePort, keepData: cli.keepData, log, ...urls };
    const searchPlan = { durationS: stepS, warmupS: quick ? 1 : 3, scrapeMs: 1000 };

    // c, then a: every record to the queue. The fixed rate runs first, on fresh processes, so its
    // RSS is not the high-water mark left behind by the maximum-rate steps.
    // A short warm-up at the same rate first (JIT, connection pools), checked like every step.
    await withRun(options, 'all-to-queue', -1, timeline, benchStart, problems, async (run) => {
      await runStep(
        run,
        { phase: 'warm-up', rate: 1000, durationS: quick ? 3 : 10, warmupS: 0, scrapeMs: 1000 },
        steps,
      );
      await runStep(
        run,
        { phase: 'fixed-1000', rate: 1000, durationS: quick ? 8 : 30, warmupS: quick ? 1 : 3, scrapeMs: 1000 },
        steps,
      );
      ({ best: maxQueue, failed: maxQueueFailed } = await search(
        run,
        'max-queue',
        cli.startRate,
        searchPlan,
        cli.maxSteps,
        steps,
      ));
    });

    // Profiles of the filter and both writers at the maximum rate.
    if (cli.profile && maxQueue) {
      rmSync(profileDir, { recursive: true, force: true });
      mkdirSync(profileDir, { recursive: true });
      const rate = maxQueue.targetRate;
      const started = new Map<string, number>();
      const profiled = await withRun(
        options,
        'profile',
        -1,
        timeline,
        benchStart,
        problems,
        async (run) => {
          for (const name of APP_NAMES) started.set(name, run.apps[name].startedAt);
          const durationS = Math.max(stepS, quick ? 6 : 20);
          return runStep(run, { ...searchPlan, durationS, phase: 'profile', rate }, steps);
        },
        profileDir,
      );
      const files = existsSync(profileDir) ? readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')) : [];
      for (const file of files) {
        try {
          // Only the steady window at the maximum rate: start-up and drain left out.
          const spawned = started.get(file.replace(/\.cpuprofile$/, ''));
          const window =
            profiled && spawned !== undefined
              ? { fromMs: profiled.windowStartAt - spawned, toMs: profiled.windowEndAt - spawned }
              : undefined;
          const summary = summarizeProfile(join(profileDir, file), 20, window);
          profiles.push(summary);
          log(formatProfile(summary));
        } catch (error) {
          problems.push(`profile ${file}: ${errorText(error)}`);
        }
      }
    }

    // d, then b: the default mix. The idle measurement runs first, on fresh processes, so no heap
    // left over from the maximum-rate steps is being collected in its window.
    await withRun(options, 'default-mix', 90, timeline, benchStart, problems, async (run) => {
      await runStep(
        run,
        { phase: 'idle-5', rate: 5, durationS: quick ? 10 : 40, warmupS: quick ? 3 : 5, scrapeMs: 0 },
        steps,
      );
      const start = Math.max(cli.startRate, 2 * (maxQueue?.targetRate ?? cli.startRate));
      ({ best: maxMix, failed: maxMixFailed } = await search(run, 'max-mix', start, searchPlan, cli.maxSteps, steps));
    });
  }

  if (cli.only === undefined || cli.only === 'raw') {
    // The raw stages, with the batching the pipeline showed at its maximum rate (config defaults otherwise).
    const b = maxQueue?.batching;
    const clamp = (value: number | undefined, fallback: number, max: number): number =>
      Math.min(max, Math.max(1, Math.round(value ?? fallback)));
    const rawOptions: RawOptions = {
      ...urls,
      durationS: cli.duration ?? (quick ? 2 : 8),
      concurrency: cli.rawConcurrency,
      wsFrameRecords: clamp(b?.recordsPerFrame, 25, 1000),
      wsFramesInFlight: 32,
      amqpRecordsPerMessage: clamp(b?.recordsPerMessage, 100, 5000),
      amqpConfirmWindow: 64,
      pgRowsPerInsert: clamp(b?.postgresRecordsPerInsert, 1000, 1000),
      mongoRecordsPerInsert: clamp(b?.mongoRecordsPerWrite, 1000, 1000),
    };
    log('raw stages');
    raw = await runRawStages(rawOptions, log);
    for (const r of raw) if (r.error) problems.push(`raw ${r.stage}: ${r.error}`);
    log('baseline pipeline (plain clients, four processes)');
    const durationS = cli.duration ?? (quick ? 5 : 20);
    baseline = await runBaseline({ ...urls, durationS, warmupS: quick ? 2 : 5, port: cli.basePort + 10, log });
    log(
      baseline.error
        ? `  FAILED: ${baseline.error}`
        : `  ${Math.round(baseline.recordsPerSecond)} records/s in both databases (sent ${Math.round(baseline.sentPerS)}/s, routed ${Math.round(baseline.routedPerS)}/s, PostgreSQL ${Math.round(baseline.postgresPerS)}/s, MongoDB ${Math.round(baseline.mongoPerS)}/s)`,
    );
    if (baseline.error) problems.push(`baseline: ${baseline.error}`);
  }

  let scale: Awaited<ReturnType<typeof runScaleFigure>> | undefined;
  if ((cli.only === undefined && cli.scale) || cli.only === 'scale') {
    const missing = missingBuilds(dist);
    if (missing.length > 0) {
      console.error(`bench: no build of ${missing.join(', ')} in ${dist}; run npm run build or pass --dist`);
      process.exit(2);
    }
    scale = await runScaleFigure({
      ...urls,
      dist,
      runDir,
      basePort: cli.basePort + 20,
      partitions: 8,
      writerCounts: [1, 2, 3],
      generators: 4,
      durationS: stepS,
      warmupS: quick ? 1 : 3,
      startRate: cli.startRate,
      maxSteps: cli.maxSteps,
      keepData: cli.keepData,
      log,
    });
    problems.push(...scale.problems);
  }

  const invalid = steps.filter((s) => !s.valid);
  for (const step of invalid) problems.push(`${step.phase} at ${step.targetRate}/s: ${step.check.problems.join('; ')}`);
  const valid = (step: StepResult | undefined): StepResult | undefined => (step?.valid ? step : undefined);
  const rawOk = raw.filter((r) => !r.error);
  const slowest =
    rawOk.length > 0 ? rawOk.reduce((a, b) => (b.recordsPerSecond < a.recordsPerSecond ? b : a)) : undefined;
  const pipelineRate = valid(maxQueue)?.bothDbPerS;
  const baselineRate = baseline && !baseline.error ? baseline.recordsPerSecond : undefined;
  const ratio = pipelineRate !== undefined && baselineRate ? pipelineRate / baselineRate : undefined;
  const fixed = valid(steps.find((s) => s.phase === 'fixed-1000'));
  const idle = valid(steps.find((s) => s.phase === 'idle-5'));
  const p99 = { postgres: fixed?.latency?.postgres.percentiles?.p99, mongo: fixed?.latency?.mongo.percentiles?.p99 };
  const maxRss = fixed ? Math.max(...APP_NAMES.map((a) => fixed.apps[a].rssMaxMb)) : undefined;
  const maxIdleCpu = idle ? Math.max(...APP_NAMES.map((a) => idle.apps[a].cpuPercent)) : undefined;
  const targets: Target[] = [
    {
      name: 'all to the queue, stored in both databases',
      target: '>= 20,000 records/s',
      measured: pipelineRate !== undefined ? `${Math.round(pipelineRate)} records/s` : '-',
      pass: pipelineRate !== undefined ? pipelineRate >= 20_000 : undefined,
    },
    {
      name: 'pipeline / baseline pipeline',
      target: '>= 0.7',
      measured:
        ratio !== undefined
          ? `${ratio.toFixed(2)} (${Math.round(pipelineRate ?? 0)} / ${Math.round(baselineRate ?? 0)})`
          : '-',
      pass: ratio !== undefined ? ratio >= 0.7 : undefined,
    },
    {
      name: 'p99 end to end at 1,000 records/s (exact)',
      target: '<= 100 ms each',
      measured: fixed
        ? `${Math.round(p99.postgres ?? NaN)} ms PostgreSQL, ${Math.round(p99.mongo ?? NaN)} ms MongoDB`
        : '-',
      pass:
        p99.postgres !== undefined && p99.mongo !== undefined ? Math.max(p99.postgres, p99.mongo) <= 100 : undefined,
    },
    {
      name: 'RSS of each app at 1,000 records/s',
      target: '<= 150 MB',
      measured: fixed ? APP_NAMES.map((a) => `${a} ${Math.round(fixed.apps[a].rssMaxMb)}`).join(', ') : '-',
      pass: maxRss !== undefined ? maxRss <= 150 : undefined,
    },
    {
      name: 'CPU of each app at 5 records/s',
      target: '< 1% of one core',
      measured: idle ? APP_NAMES.map((a) => `${a} ${idle.apps[a].cpuPercent.toFixed(2)}%`).join(', ') : '-',
      pass: maxIdleCpu !== undefined ? maxIdleCpu < 1 : undefined,
    },
  ];

  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    options: { ...cli, stepSeconds: stepS, dist },
    machine: { cpus: cpus().length, node: process.version, memoryMb: totalmem() / 1024 / 1024 },
    commit: cli.only === 'raw' ? undefined : buildCommit(dist),
    raw,
    slowestRaw: slowest ? { stage: slowest.stage, recordsPerSecond: slowest.recordsPerSecond } : undefined,
    baseline,
    // An invalid step keeps its check results but none of its figures.
    steps: steps.map((s) => (s.valid ? s : { ...s, sustainable: false })),
    maxQueueRate: valid(maxQueue)?.targetRate,
    maxQueueLimit: maxQueueFailed?.unsustainableBecause,
    maxMixRate: valid(maxMix)?.targetRate,
    maxMixLimit: maxMixFailed?.unsustainableBecause,
    pipelineRecordsPerSecond: pipelineRate,
    ratio,
    targets,
    profiles,
    timeline,
    scale: scale?.figures,
    scaleSteps: scale?.steps,
    valid: problems.length === 0,
    problems,
  };
  if (!quick && cli.only === undefined && cli.history) {
    report.history = appendHistory(resolve(HISTORY_FILE), {
      commit: report.commit,
      at: report.startedAt,
      cpus: report.machine.cpus,
      maxQueue: report.maxQueueRate,
      baseline: baselineRate,
      ratio,
      maxMix: report.maxMixRate,
      p99PostgresMs: p99.postgres,
      p99MongoMs: p99.mongo,
      idleCpuPercent: maxIdleCpu,
      rssMb: maxRss,
      valid: report.valid,
    });
  }
  writeReport(out, report);
  log('');
  log(formatReport(report));
  log('');
  log(`report: ${join(out, 'report.json')}, ${join(out, 'report.html')}; logs under ${runDir}`);
  process.exitCode = report.valid ? 0 : 1;
}

runTool('bench', main, () => {
  for (const run of active) run.killAllNow();
});
