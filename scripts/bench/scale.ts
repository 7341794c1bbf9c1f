/**
 * The bench's scale figure: the all-to-queue maximum of the partitioned topology on the local
 * 3-node RabbitMQ cluster with 1, 2 and 3 active writers of each sink, on the same services, and
 * where the limit then lies. Each writer count is a maximum-rate search (searchMaximum) over steps
 * of several generators (several sources: a source is one partition, so one generator would keep
 * all but one writer idle), one filter (every record to the queue) and R db-writers and R
 * mongo-writers (ordinals 0 to R-1, each connected first to another node). Every step is checked
 * against the stores: each source's records stored once in PostgreSQL and in MongoDB, or the step
 * is invalid and the search stops.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppProcess, PORT_VARIABLE, type AppName } from '../kit/app-process';
import { cluster, nodesFrom, partitionTotals, resetTopology } from '../kit/cluster';
import { metricSum } from '../kit/prometheus';
import type { ServiceUrls } from '../kit/services';
import { deleteSourceAt, withMongo, withPostgres } from '../kit/stores';
import { errorText } from '../kit/tool';
import { sleep, waitUntil } from '../kit/wait';
import { searchMaximum, type SearchStep } from './search';
import { machineUsage, SERVICE_NAMES, type MachineUsage, type ServiceName } from './util';

const RECORDS = 'dataflow_records_total';

export interface ScaleBenchOptions extends ServiceUrls {
  readonly dist: string;
  readonly runDir: string;
  /** First of the ports the apps take (one filter, up to 3 + 3 writers, the generators). */
  readonly basePort: number;
  readonly partitions: number;
  readonly writerCounts: readonly number[];
  readonly generators: number;
  readonly durationS: number;
  readonly warmupS: number;
  readonly startRate: number;
  readonly maxSteps: number;
  readonly keepData: boolean;
  readonly log: (line: string) => void;
}

export interface ScaleStep extends SearchStep {
  readonly writers: number;
  readonly generatedPerS: number;
  readonly postgresPerS: number;
  readonly mongoPerS: number;
  /** Records/s the partition queues grew by over the window. */
  readonly queueGrowthPerS: number;
  /** Percent of one core: the whole machine, and the shared services' processes. */
  readonly machineBusyPercent?: number;
  readonly servicesPercent?: Record<ServiceName, number>;
  readonly cores?: number;
  readonly unsustainableBecause: string[];
  readonly problems: string[];
}

export interface ScaleFigure {
  readonly writers: number;
  readonly best?: ScaleStep;
  readonly failed?: ScaleStep;
  /** Where the limit lies, from the lowest failed step. */
  readonly limit: string;
}

interface Counters {
  readonly at: number;
  readonly generated: number;
  readonly postgres: number;
  readonly mongo: number;
  readonly queued: number;
  readonly machine: MachineUsage | undefined;
}

/** One writer count's apps: a filter and R writers of each sink, kept for all its steps. */
class ScaleSetup {
  readonly filter: AppProcess;
  readonly dbWriters: AppProcess[] = [];
  readonly mongoWriters: AppProcess[] = [];
  private readonly token = `bench-scale-token-${Date.now().toString(36)}-0123456789`;
  private readonly logDir: string;
  private stepIndex = 0;

  constructor(
    private readonly options: ScaleBenchOptions,
    readonly writers: number,
  ) {
    const logDir = join(options.runDir, `scale-${writers}`);
    mkdirSync(logDir, { recursive: true });
    this.logDir = logDir;
    this.filter = this.app('filter', 'filter', 0, {
      RABBITMQ_URL: nodesFrom(0),
      FILTER_THRESHOLD: '-1',
      FILTER_OUTPUT_DIR: join(logDir, 'filtered'),
      INGEST_TOKEN: this.token,
      FILTER_ADMIN_TOKEN: this.token,
    });
    for (let i = 0; i < writers; i++) {
      this.dbWriters.push(
        this.app('db-writer', `db-writer-${i}`, 1 + i, {
          RABBITMQ_URL: nodesFrom(i),
          DB_WRITER_ORDINAL: String(i),
          DB_WRITER_REPLICAS: String(writers),
        }),
      );
      this.mongoWriters.push(
        this.app('mongo-writer', `mongo-writer-${i}`, 4 + i, {
          RABBITMQ_URL: nodesFrom(i),
          MONGO_WRITER_ORDINAL: String(i),
          MONGO_WRITER_REPLICAS: String(writers),
        }),
      );
    }
  }

  private app(app: AppName, name: string, offset: number, env: Record<string, string>): AppProcess {
    const port = this.options.basePort + offset;
    return new AppProcess({
      app,
      name,
      port,
      dist: this.options.dist,
      logFile: join(this.logDir, `${name}.log`),
      env: {
        NODE_ENV: 'production',
        LOG_LEVEL: 'info',
        SHUTDOWN_TIMEOUT_SECONDS: '20',
        RECORD_PARTITIONS: String(this.options.partitions),
        DATABASE_URL: this.options.databaseUrl,
        MONGODB_URL: this.options.mongodbUrl,
        [PORT_VARIABLE[app]]: String(port),
        ...env,
      },
    });
  }

  get apps(): AppProcess[] {
    return [this.filter, ...this.dbWriters, ...this.mongoWriters];
  }

  async start(): Promise<void> {
    await Promise.all([...this.dbWriters, ...this.mongoWriters].map((writer) => writer.start()));
    await this.filter.start();
    await Promise.all(this.apps.map((app) => app.ready()));
  }

  async stop(): Promise<string[]> {
    const bad: string[] = [];
    for (const app of this.apps) {
      if (!app.running) continue;
      const code = await app.stop();
      if (code !== 0) bad.push(`${app.name} exited with ${String(code)}`);
    }
    return bad;
  }

  /** One step: the generators at `rate` together for the window, stopped, drained and checked. */
  async step(rate: number): Promise<ScaleStep> {
    const { options } = this;
    const index = ++this.stepIndex;
    const stateDir = join(this.logDir, `step-${index}-state`);
    mkdirSync(stateDir, { recursive: true });
    const sources = Array.from({ length: options.generators }, (_, g) => `bench-scale-${this.writers}w-${index}-g${g}`);
    const generators = sources.map((source, g) =>
      this.app('generator', `generator-${index}-${g}`, 7 + g, {
        GENERATOR_ID: source,
        GENERATOR_RATE: String(rate / options.generators),
        GENERATOR_STATE_DIR: stateDir,
        FILTER_WS_URL: `ws://127.0.0.1:${this.filter.port}/ingest`,
        INGEST_TOKEN: this.token,
      }),
    );
    const problems: string[] = [];
    let first: Counters | undefined;
    let last: Counters | undefined;
    try {
      await Promise.all(generators.map((generator) => generator.start()));
      await sleep(options.warmupS * 1000);
      first = await this.counters(generators);
      await sleep(options.durationS * 1000);
      last = await this.counters(generators);
    } catch (error) {
      problems.push(`step at ${rate}/s: ${errorText(error)}`);
    }
    const exits = await Promise.all(generators.map((generator) => generator.stop(60_000)));
    for (const generator of generators) generator.closeLog();
    exits.forEach((code, g) => {
      if (code !== 0) problems.push(`generator ${g} exited with ${String(code)}`);
    });
    await waitUntil(async () => (await partitionTotals()).records === 0, 180_000, 'the partition queues to empty', {
      intervalMs: 1000,
    }).catch((error: unknown) => problems.push(errorText(error)));
    await sleep(2000); // a write in flight when the queues emptied
    for (const source of sources) problems.push(...(await checkSource(options, source, stateDir)));
    if (!options.keepData) {
      for (const source of sources) await deleteSourceAt(options.databaseUrl, options.mongodbUrl, source);
    }
    return judge(this.writers, rate, first, last, problems);
  }

  private async counters(generators: readonly AppProcess[]): Promise<Counters> {
    const machine = machineUsage();
    const at = Date.now();
    const sum = async (apps: readonly AppProcess[], labels: Record<string, string>): Promise<number> => {
      let total = 0;
      for (const app of apps) total += metricSum((await app.metrics()) ?? [], RECORDS, labels);
      return total;
    };
    const [generated, postgres, mongo, queued] = await Promise.all([
      sum(generators, { stage: 'generate', outcome: 'ok' }),
      sum(this.dbWriters, { stage: 'store' }),
      sum(this.mongoWriters, { stage: 'store' }),
      partitionTotals().then((totals) => totals.records),
    ]);
    return { at, generated, postgres, mongo, queued, machine };
  }
}

/** Rates over the window and whether the step kept up. */
function judge(
  writers: number,
  rate: number,
  first: Counters | undefined,
  last: Counters | undefined,
  problems: string[],
): ScaleStep {
  const seconds = first && last ? (last.at - first.at) / 1000 : 0;
  const per = (key: 'generated' | 'postgres' | 'mongo' | 'queued'): number =>
    first && last && seconds > 0 ? (last[key] - first[key]) / seconds : 0;
  const generatedPerS = per('generated');
  const postgresPerS = per('postgres');
  const mongoPerS = per('mongo');
  const queueGrowthPerS = per('queued');
  const because: string[] = [];
  if (generatedPerS < 0.95 * rate) because.push(`generated ${generatedPerS.toFixed(0)}/s < 95% of the target`);
  if (postgresPerS < 0.95 * generatedPerS) because.push('PostgreSQL store rate < 95% of the generated rate');
  if (mongoPerS < 0.95 * generatedPerS) because.push('MongoDB store rate < 95% of the generated rate');
  if (queueGrowthPerS > 0.05 * rate)
    because.push(`partition queues growing by ${queueGrowthPerS.toFixed(0)} records/s`);
  let machineBusyPercent: number | undefined;
  let servicesPercent: Record<ServiceName, number> | undefined;
  let cores: number | undefined;
  const a = first?.machine;
  const b = last?.machine;
  if (a && b && seconds > 0) {
    const total = b.totalSeconds - a.totalSeconds;
    cores = Math.round(total / seconds);
    machineBusyPercent = total > 0 ? ((b.busySeconds - a.busySeconds) / seconds) * 100 : undefined;
    const services: Partial<Record<ServiceName, number>> = {};
    for (const name of SERVICE_NAMES) services[name] = ((b.services[name] - a.services[name]) / seconds) * 100;
    servicesPercent = services as Record<ServiceName, number>;
  }
  return {
    writers,
    targetRate: rate,
    generatedPerS,
    postgresPerS,
    mongoPerS,
    queueGrowthPerS,
    machineBusyPercent,
    servicesPercent,
    cores,
    sustainable: problems.length === 0 && because.length === 0,
    unsustainableBecause: because,
    valid: problems.length === 0,
    problems,
  };
}

/** Every record the source's generator reserved is stored once in PostgreSQL and once in MongoDB. */
async function checkSource(options: ServiceUrls, source: string, stateDir: string): Promise<string[]> {
  let reserved: number;
  try {
    reserved = Number(readFileSync(join(stateDir, `${source}.seq`), 'utf8').trim());
  } catch {
    return [`${source}: no seq state`];
  }
  const pg = await withPostgres(options.databaseUrl, async (client) => {
    const { rows } = await client.query<{ count: string; distinct: string; max: string | null }>(
      'SELECT count(*) AS count, count(DISTINCT seq) AS distinct, max(seq) AS max FROM data_records WHERE source = $1',
      [source],
    );
    const row = rows[0];
    return { count: Number(row?.count ?? 0), distinct: Number(row?.distinct ?? 0), max: Number(row?.max ?? 0) };
  });
  const mongo = await withMongo(options.mongodbUrl, async (client) => {
    let records = 0;
    const documents = client
      .db()
      .collection<{ nestedRecords?: unknown[] }>('data_records')
      .find({ source }, { projection: { _id: 0, nestedRecords: 1 } });
    for await (const document of documents) records += 1 + (document.nestedRecords?.length ?? 0);
    return records;
  });
  const problems: string[] = [];
  // The seq file reserves ahead of generation; what was generated is 1..max, stored once each.
  if (pg.count !== pg.distinct || pg.max !== pg.count) {
    problems.push(`${source}: PostgreSQL holds ${pg.count} rows, ${pg.distinct} distinct seqs, up to ${pg.max}`);
  }
  if (pg.max > reserved) problems.push(`${source}: seq ${pg.max} stored above the reserved ${reserved}`);
  if (mongo !== pg.count) problems.push(`${source}: MongoDB holds ${mongo} records, PostgreSQL ${pg.count}`);
  return problems;
}

/** Where a failed step's limit lies: what fell short, and how busy the machine was. */
function limitOf(failed: ScaleStep | undefined): string {
  if (!failed) return 'no step failed (the maximum is a lower bound)';
  const cpu =
    failed.machineBusyPercent !== undefined && failed.cores !== undefined
      ? `; the machine was ${((failed.machineBusyPercent / (failed.cores * 100)) * 100).toFixed(0)}% busy (${failed.cores} cores; ` +
        SERVICE_NAMES.map((name) => `${name} ${(failed.servicesPercent?.[name] ?? 0).toFixed(0)}%`).join(', ') +
        ' of one core)'
      : '';
  return `${failed.unsustainableBecause.join('; ') || 'invalid'}${cpu}`;
}

/** The figure for each writer count, on the cluster it starts. */
export async function runScaleFigure(
  options: ScaleBenchOptions,
): Promise<{ figures: ScaleFigure[]; steps: ScaleStep[]; problems: string[] }> {
  const { log } = options;
  const steps: ScaleStep[] = [];
  const figures: ScaleFigure[] = [];
  const problems: string[] = [];
  await cluster('up');
  for (const writers of options.writerCounts) {
    log(
      `scale: ${writers} db-writer(s) and ${writers} mongo-writer(s), ${options.partitions} partitions, ${options.generators} generators`,
    );
    await resetTopology();
    const setup = new ScaleSetup(options, writers);
    try {
      await setup.start();
      const { best, failed } = await searchMaximum(
        async (rate) => {
          log(`  step: ${rate} records/s for ${options.durationS} s`);
          const step = await setup.step(rate);
          steps.push(step);
          log(
            `    generated ${step.generatedPerS.toFixed(0)}/s, pg ${step.postgresPerS.toFixed(0)}/s, mongo ${step.mongoPerS.toFixed(0)}/s, ` +
              `queues ${step.queueGrowthPerS >= 0 ? '+' : ''}${step.queueGrowthPerS.toFixed(0)}/s, machine ${step.machineBusyPercent?.toFixed(0) ?? '-'}%, ` +
              `${step.sustainable ? 'sustainable' : `not sustainable (${step.unsustainableBecause.join('; ')})`}, ` +
              `${step.valid ? 'check ok' : `INVALID (${step.problems.join('; ')})`}`,
          );
          for (const problem of step.problems) problems.push(`scale ${writers} at ${rate}/s: ${problem}`);
          return step;
        },
        options.startRate,
        options.maxSteps,
      );
      figures.push({ writers, best, failed, limit: limitOf(failed) });
    } catch (error) {
      problems.push(`scale ${writers}: ${errorText(error)}`);
      log(`  FAILED: ${errorText(error)}`);
    } finally {
      for (const problem of await setup.stop()) problems.push(`scale ${writers}: ${problem}`);
      for (const app of setup.apps) app.closeLog();
    }
  }
  return { figures, steps, problems };
}
