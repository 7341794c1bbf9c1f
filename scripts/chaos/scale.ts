/**
 * `npm run chaos -- --scenario scale`: the partitioned topology on the local 3-node RabbitMQ
 * cluster (`scripts/infra.sh cluster up`), with 4 generators, 3 filters, 3 db-writers and 3
 * mongo-writers sharing 8 partitions per sink (the file sink's too), under the faults of scale-out:
 * the node leading most partition queues killed, writers scaled down and up, a writer of each sink
 * SIGKILLed, the filters rolled one by one, a filter SIGKILLed. Then a reconciliation of every
 * generator's source in all three sinks, as the default scenario does: nothing lost, duplicated or
 * misnested, order kept per source. See docs/chaos.md.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataRecord, RecordSink } from '@dataflow/contracts';
import { AppProcess, PORT_VARIABLE, type AppName } from '../kit/app-process';
import { metricSum } from '../kit/prometheus';
import { busiestLeader, cluster, nodesFrom, partitionTotals, resetTopology } from '../kit/cluster';
import { serviceUrls, type ServiceUrls } from '../kit/services';
import { deleteSourceAt, fileSinkRecords, readDatabases } from '../kit/stores';
import { errorText } from '../kit/tool';
import { sleep, waitUntil } from '../kit/wait';
import { number, readFlags } from './options';
import { reconcile, type GeneratorLifetime, type Reconciliation } from './reconcile';

const WRITERS = 3;
const FILTERS = 3;
const GENERATORS = 4;
/** Records with randomValue above it go to the queues, the others (about half) to the file sink. */
const THRESHOLD = 50;
const START_TIMEOUT_MS = 90_000;
const RECORDS = 'dataflow_records_total';

export interface ScaleOptions extends ServiceUrls {
  /** Records a second of each generator. */
  readonly rate: number;
  readonly partitions: number;
  /** Seconds each fault lasts, and of traffic between faults. */
  readonly outageS: number;
  readonly recoverTimeoutS: number;
  readonly drainTimeoutS: number;
  readonly basePort: number;
  readonly runDir: string;
  readonly keepData: boolean;
}

export const SCALE_USAGE = `usage: npm run chaos -- --scenario scale [options]

Starts the local 3-node RabbitMQ cluster (scripts/infra.sh cluster up), runs 4 generators (each
given the 3 filters' URLs), 3 filters sharing one output directory, 3 db-writers and 3 mongo-writers
on a topology of --partitions partitions per sink, randomValue above ${THRESHOLD} to the queues and the
rest to the file sink, and injects: the node leading most partition queues killed and restarted, one
writer of each sink stopped and started again, one writer of each sink SIGKILLed, the filters stopped
and started again one by one (a rolling update), one filter SIGKILLed. Then drains and reconciles
each generator's source in PostgreSQL, MongoDB and the file sink's partitions.
Exits 0 only if nothing was lost, duplicated or misnested, in order, and the dead-letter queues are empty.

options (each also as an environment variable):
  --rate N            records a second of each generator (CHAOS_RATE, default 50)
  --partitions N      partitions per sink (CHAOS_PARTITIONS, default 8)
  --outage S          seconds each fault lasts, and between faults (CHAOS_OUTAGE_S, default 10)
  --recover-timeout S longest wait for records to flow again (CHAOS_RECOVER_TIMEOUT_S, default 90)
  --drain-timeout S   longest wait for the final drain (CHAOS_DRAIN_TIMEOUT_S, default 180)
  --base-port N       apps on N..N+12 (CHAOS_BASE_PORT, default 3501)
  --run-dir DIR       logs and generator state (CHAOS_RUN_DIR, default data/chaos/scale-<timestamp>)
  --keep-data         keep the run's rows and documents (CHAOS_KEEP_DATA=1)

DATABASE_URL and MONGODB_URL are the stores; the broker is always the local cluster.`;

const FLAGS: Record<string, string> = {
  '--rate': 'CHAOS_RATE',
  '--partitions': 'CHAOS_PARTITIONS',
  '--outage': 'CHAOS_OUTAGE_S',
  '--recover-timeout': 'CHAOS_RECOVER_TIMEOUT_S',
  '--drain-timeout': 'CHAOS_DRAIN_TIMEOUT_S',
  '--base-port': 'CHAOS_BASE_PORT',
  '--run-dir': 'CHAOS_RUN_DIR',
};

export function parseScaleOptions(argv: readonly string[], env: NodeJS.ProcessEnv): ScaleOptions | 'help' {
  const flags = readFlags(argv, env, FLAGS);
  if (flags === 'help') return 'help';
  const { values, keepData } = flags;
  const integer = (variable: string, fallback: number, min: number, max: number): number =>
    number(values, variable, fallback, min, max, true, FLAGS);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    rate: integer('CHAOS_RATE', 50, 1, 20_000),
    partitions: integer('CHAOS_PARTITIONS', 8, 2, 64),
    outageS: integer('CHAOS_OUTAGE_S', 10, 1, 600),
    recoverTimeoutS: integer('CHAOS_RECOVER_TIMEOUT_S', 90, 5, 3600),
    drainTimeoutS: integer('CHAOS_DRAIN_TIMEOUT_S', 180, 10, 3600),
    basePort: integer('CHAOS_BASE_PORT', 3501, 1024, 65_000),
    runDir: values.CHAOS_RUN_DIR ?? join(process.cwd(), 'data', 'chaos', `scale-${stamp}`),
    keepData,
    ...serviceUrls({}, env),
  };
}

function log(text: string): void {
  console.log(`chaos scale: ${text}`);
}

/** The filters in the order generator `i` tries them: from filter i mod FILTERS on. */
function filterOrder(i: number): number[] {
  return Array.from({ length: FILTERS }, (_, k) => (i + k) % FILTERS);
}

/** Records of the file sink (one source, file and line order) whose seq is not above the one before. */
function outOfOrder(records: readonly DataRecord[]): number {
  let count = 0;
  for (let i = 1; i < records.length; i++) if ((records[i]?.seq ?? 0) <= (records[i - 1]?.seq ?? 0)) count++;
  return count;
}

interface FaultResult {
  readonly name: string;
  readonly description: string;
  readonly recoverS: number | undefined;
}

class ScaleRun {
  readonly run = `scale-${Date.now().toString(36)}`;
  readonly logDir: string;
  readonly stateDir: string;
  readonly generators: AppProcess[] = [];
  readonly dbWriters: AppProcess[] = [];
  readonly mongoWriters: AppProcess[] = [];
  readonly filters: AppProcess[] = [];
  readonly outputDir: string;
  readonly lifetimes = new Map<string, GeneratorLifetime>();

  constructor(readonly options: ScaleOptions) {
    this.logDir = join(options.runDir, 'logs');
    this.stateDir = join(options.runDir, 'generator-state');
    this.outputDir = join(options.runDir, 'filtered');
    mkdirSync(this.logDir, { recursive: true });
    mkdirSync(this.stateDir, { recursive: true });
    let port = options.basePort;
    const app = (name: AppName, instance: string, env: Record<string, string>): AppProcess => {
      const own = port++;
      return new AppProcess({
        app: name,
        name: instance,
        port: own,
        logFile: join(this.logDir, `${instance}.log`),
        detached: true,
        env: {
          NODE_ENV: 'production',
          LOG_LEVEL: 'info',
          SHUTDOWN_TIMEOUT_SECONDS: '20',
          RECORD_PARTITIONS: String(options.partitions),
          DATABASE_URL: options.databaseUrl,
          MONGODB_URL: options.mongodbUrl,
          [PORT_VARIABLE[name]]: String(own),
          ...env,
        },
      });
    };
    const token = `${this.run}-ingest-token-0123456789`;
    // One output directory for the three: what a volume shared by the replicas is on Kubernetes.
    for (let i = 0; i < FILTERS; i++) {
      this.filters.push(
        app('filter', `filter-${i}`, {
          RABBITMQ_URL: nodesFrom(i),
          INGEST_TOKEN: token,
          FILTER_ADMIN_TOKEN: `${this.run}-admin-token-0123456789`,
          FILTER_THRESHOLD: String(THRESHOLD),
          FILTER_OUTPUT_DIR: this.outputDir,
        }),
      );
    }
    for (let i = 0; i < WRITERS; i++) {
      this.dbWriters.push(
        app('db-writer', `db-writer-${i}`, {
          RABBITMQ_URL: nodesFrom(i),
          DB_WRITER_ORDINAL: String(i),
          DB_WRITER_REPLICAS: String(WRITERS),
        }),
      );
      this.mongoWriters.push(
        app('mongo-writer', `mongo-writer-${i}`, {
          RABBITMQ_URL: nodesFrom(i),
          MONGO_WRITER_ORDINAL: String(i),
          MONGO_WRITER_REPLICAS: String(WRITERS),
        }),
      );
    }
    for (let i = 0; i < GENERATORS; i++) {
      this.generators.push(
        app('generator', `generator-${i}`, {
          GENERATOR_ID: this.sourceOf(i),
          GENERATOR_RATE: String(options.rate),
          GENERATOR_STATE_DIR: this.stateDir,
          // Every filter, starting with a different one per generator: a lost connection moves on.
          FILTER_WS_URL: filterOrder(i)
            .map((f) => `ws://127.0.0.1:${(this.filters[f] as AppProcess).port}/ingest`)
            .join(','),
          INGEST_TOKEN: token,
          GENERATOR_BREAKER_HALF_OPEN_MS: '1000',
          GENERATOR_ACK_TIMEOUT_MS: '3000',
          GENERATOR_RECONNECT_MAX_MS: '2000',
        }),
      );
    }
  }

  sourceOf(generator: number): string {
    return `${this.run}-g${generator}`;
  }

  get writers(): AppProcess[] {
    return [...this.dbWriters, ...this.mongoWriters];
  }

  get apps(): AppProcess[] {
    return [...this.filters, ...this.writers, ...this.generators];
  }

  /**
   * Stored + duplicate counts of each sink's writers now running (each restart starts from 0); the
   * file sink's writers are the filters.
   */
  async storeCounts(): Promise<Record<RecordSink, number>> {
    const sum = async (writers: readonly AppProcess[]): Promise<number> => {
      let total = 0;
      for (const writer of writers) {
        if (!writer.running) continue;
        const samples = await writer.metrics(1000).catch(() => undefined);
        total += metricSum(samples ?? [], RECORDS, { stage: 'store' });
      }
      return total;
    };
    return { postgres: await sum(this.dbWriters), mongo: await sum(this.mongoWriters), file: await sum(this.filters) };
  }

  /**
   * Recovered: records reach all three sinks again (each sink's running writers stored more within a
   * few seconds) and no partition is left behind: every partition queue that holds messages is
   * being consumed (some are delivered and unacknowledged), twice in a row, so the partitions of a
   * writer that went away have an active consumer again, and every running writer and filter is ready. A
   * backlog may remain, being worked off.
   */
  async flowing(timeoutS: number): Promise<void> {
    await this.storing(timeoutS);
    let consumedInARow = 0;
    let last: string[] = [];
    await waitUntil(
      async () => {
        last = (await partitionTotals()).unconsumed;
        consumedInARow = last.length === 0 ? consumedInARow + 1 : 0;
        return consumedInARow >= 2;
      },
      timeoutS * 1000,
      'every partition with messages to be consumed',
      { intervalMs: 1000 },
    ).catch((error: unknown) => {
      throw new Error(`${errorText(error)} (not consumed: ${last.join(', ')})`);
    });
    // Every running writer ready: subscribed on every partition (a writer that lost a subscription
    // for good would only be a missing standby, invisible in the stores).
    await waitUntil(
      async () => {
        for (const app of [...this.writers, ...this.filters]) {
          if (app.running && (await app.get('/health/ready').catch(() => ({ status: 0 }))).status !== 200) {
            return false;
          }
        }
        return true;
      },
      timeoutS * 1000,
      'every running writer and filter to be ready (consuming every partition)',
      { intervalMs: 1000 },
    );
    await this.storing(timeoutS);
  }

  private async storing(timeoutS: number): Promise<void> {
    let before = await this.storeCounts();
    await waitUntil(
      async () => {
        const now = await this.storeCounts();
        const moved = now.postgres > before.postgres && now.mongo > before.mongo && now.file > before.file;
        if (!moved) {
          before = {
            postgres: Math.min(before.postgres, now.postgres),
            mongo: Math.min(before.mongo, now.mongo),
            file: Math.min(before.file, now.file),
          };
        }
        return moved;
      },
      timeoutS * 1000,
      'records to reach all three sinks',
      { intervalMs: 1000 },
    );
  }

  async sampleGenerators(): Promise<void> {
    for (const [i, generator] of this.generators.entries()) {
      const lifetime = this.lifetimes.get(this.sourceOf(i));
      if (!lifetime || lifetime.end !== 'running') continue;
      const samples = await generator.metrics(2000).catch(() => undefined);
      if (!samples) continue;
      const value = (stage: string, outcome: string): number =>
        metricSum(samples, RECORDS, { app: 'generator', stage, outcome });
      lifetime.generated = Math.max(lifetime.generated, value('generate', 'ok'));
      lifetime.acked = Math.max(lifetime.acked, value('deliver', 'acked'));
      lifetime.refused = Math.max(lifetime.refused, value('deliver', 'refused'));
    }
  }

  /**
   * The source's records in the file sink, from every partition directory in partition order (a
   * source's records are all in one of them), and the lines that are not records.
   */
  async fileRecords(source: string): Promise<{ records: DataRecord[]; badLines: number }> {
    if (!existsSync(this.outputDir)) return { records: [], badLines: 0 };
    const partitions = readdirSync(this.outputDir)
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(a) - Number(b));
    const records: DataRecord[] = [];
    let badLines = 0;
    for (const partition of partitions) {
      const found = await fileSinkRecords(join(this.outputDir, partition), source);
      records.push(...found.records);
      badLines += found.badLines;
    }
    return { records, badLines };
  }

  reservedSeq(source: string): number {
    try {
      const value = Number(readFileSync(join(this.stateDir, `${source}.seq`), 'utf8').trim());
      return Number.isSafeInteger(value) ? value : 0;
    } catch {
      return 0;
    }
  }
}

/** One fault: inject, hold for the outage, restore, then wait for records to reach both stores again. */
async function fault(
  scale: ScaleRun,
  results: FaultResult[],
  name: string,
  description: string,
  inject: () => Promise<void>,
  restore: () => Promise<void>,
): Promise<void> {
  log(`fault ${name}: ${description}`);
  await inject();
  await sleep(scale.options.outageS * 1000);
  await restore();
  const restored = Date.now();
  let recoverS: number | undefined;
  try {
    await scale.flowing(scale.options.recoverTimeoutS);
    recoverS = (Date.now() - restored) / 1000;
    log(`  ${name}: records flowing again ${recoverS.toFixed(1)} s after the restore`);
  } catch (error) {
    log(`  ${name}: NOT recovered: ${errorText(error)}`);
  }
  results.push({ name, description, recoverS });
  await sleep(scale.options.outageS * 1000);
}

export async function runScale(options: ScaleOptions): Promise<number> {
  const scale = new ScaleRun(options);
  const results: FaultResult[] = [];
  log(
    `run ${scale.run}: ${GENERATORS} generators at ${options.rate}/s, ${FILTERS} filters, ${WRITERS}+${WRITERS} writers, ${options.partitions} partitions per sink; logs in ${scale.logDir}`,
  );
  try {
    await cluster('up');
    await resetTopology();
    // Writers first (started together: each takes its preferred partitions, then the rest as standby).
    await Promise.all(scale.writers.map((writer) => writer.start(START_TIMEOUT_MS)));
    await Promise.all(scale.filters.map((filter) => filter.start(START_TIMEOUT_MS)));
    await Promise.all([...scale.filters, ...scale.writers].map((app) => app.ready(START_TIMEOUT_MS)));
    for (const [i, generator] of scale.generators.entries()) {
      const source = scale.sourceOf(i);
      scale.lifetimes.set(source, {
        firstSeq: scale.reservedSeq(source) + 1,
        generated: 0,
        acked: 0,
        refused: 0,
        end: 'running',
      });
      await generator.start(START_TIMEOUT_MS);
    }
    const sampler = setInterval(() => void scale.sampleGenerators(), 1000);
    try {
      await sleep(15_000);
      await scale.flowing(options.recoverTimeoutS);

      let leader = 0;
      await fault(
        scale,
        results,
        'kill-leader-node',
        'SIGKILL the RabbitMQ node leading most partition queues, restart it after the outage',
        async () => {
          leader = await busiestLeader();
          log(`  rabbit-${leader} leads most partition queues: killing it`);
          await cluster('kill-node', String(leader));
        },
        () => cluster('start-node', String(leader)),
      );
      const dbWriter = (i: number): AppProcess => scale.dbWriters[i] as AppProcess;
      const mongoWriter = (i: number): AppProcess => scale.mongoWriters[i] as AppProcess;
      const appFaults: [string, string, AppProcess[], 'stop' | 'kill'][] = [
        [
          'scale-down-up-writers',
          'SIGTERM db-writer-2 and mongo-writer-2 (scale 3 → 2), start them again (2 → 3)',
          [dbWriter(2), mongoWriter(2)],
          'stop',
        ],
        [
          'kill-writers',
          'SIGKILL mongo-writer-0 and db-writer-1, start them again',
          [mongoWriter(0), dbWriter(1)],
          'kill',
        ],
        [
          'kill-filter',
          'SIGKILL filter-1, start it again (its generators move to another filter and resend)',
          [scale.filters[1] as AppProcess],
          'kill',
        ],
      ];
      for (const [name, description, apps, end] of appFaults) {
        await fault(
          scale,
          results,
          name,
          description,
          async () => {
            await Promise.all(apps.map((app) => (end === 'stop' ? app.stop(45_000) : app.kill())));
          },
          async () => {
            await Promise.all(apps.map((app) => app.start(START_TIMEOUT_MS)));
          },
        );
      }
      // A rolling update: one filter at a time stopped (it drains), started again and ready before
      // the next; the others serve /ingest meanwhile, so the stores never stop receiving.
      await fault(
        scale,
        results,
        'roll-filters',
        'SIGTERM filter-0, 1 and 2 one by one, each started again and ready before the next',
        async () => {
          for (const filter of scale.filters) {
            log(`  rolling ${filter.name}`);
            await filter.stop(45_000);
            await filter.start(START_TIMEOUT_MS);
            await filter.ready(START_TIMEOUT_MS);
          }
        },
        () => Promise.resolve(),
      );
    } finally {
      clearInterval(sampler);
    }

    log('stopping the generators (SIGTERM: they drain) and waiting for the queues to empty');
    await scale.sampleGenerators();
    const exits = await Promise.all(scale.generators.map((generator) => generator.stop(60_000)));
    for (const [i] of scale.generators.entries()) {
      const lifetime = scale.lifetimes.get(scale.sourceOf(i));
      if (!lifetime) continue;
      lifetime.end = 'stopped';
      lifetime.cleanDrain = exits[i] === 0;
      lifetime.reservedUpTo = scale.reservedSeq(scale.sourceOf(i));
    }
    await waitUntil(
      async () => (await partitionTotals()).records === 0,
      options.drainTimeoutS * 1000,
      'the partition queues to empty',
      {
        intervalMs: 2000,
      },
    );
    // A write in flight when the queues emptied: give the writers a moment to commit it.
    await sleep(3000);

    const reconciliations: Reconciliation[] = [];
    const fileOrder = new Map<string, number>();
    for (const [i] of scale.generators.entries()) {
      const source = scale.sourceOf(i);
      const lifetime = scale.lifetimes.get(source);
      if (!lifetime) continue;
      const stored = await readDatabases(options.databaseUrl, options.mongodbUrl, source);
      const files = await scale.fileRecords(source);
      reconciliations.push(
        reconcile(source, THRESHOLD, [lifetime], {
          fileRecords: files.records,
          fileBadLines: files.badLines,
          ...stored,
        }),
      );
      fileOrder.set(source, outOfOrder(files.records));
    }
    const { deadLetters } = await partitionTotals();
    const unrecovered = results.filter((r) => r.recoverS === undefined).map((r) => r.name);
    const problems = reconciliations.reduce(
      (sum, r) =>
        sum +
        r.lost +
        r.duplicatedTotal +
        r.misnested +
        r.unexplainedGaps.length +
        r.onlyInPostgres.length +
        r.onlyInMongo.length +
        r.corrupt.length +
        r.misrouted.length +
        r.fileBadLines +
        (fileOrder.get(r.source) ?? 0),
      0,
    );
    const cleanDrains = [...scale.lifetimes.values()].every((l) => l.cleanDrain === true);
    const passed = problems === 0 && deadLetters === 0 && unrecovered.length === 0 && cleanDrains;

    console.log(
      [
        '',
        'faults:',
        '| fault | what | recovered after restore |',
        '| --- | --- | --- |',
        ...results.map(
          (r) =>
            `| ${r.name} | ${r.description} | ${r.recoverS === undefined ? 'NOT recovered' : `${r.recoverS.toFixed(1)} s`} |`,
        ),
        '',
        'sources:',
        '| source | generated | acknowledged | PostgreSQL | MongoDB | files | lost | duplicated | misnested | misrouted | gaps | one store only | file lines out of order or bad |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
        ...reconciliations.map(
          (r) =>
            `| ${r.source} | ${r.generated} | ${r.acknowledged} | ${r.inPostgres} | ${r.inMongo} | ${r.inFiles} | ${r.lost} | ${r.duplicatedTotal} | ${r.misnested} | ${r.misrouted.length} | ${r.unexplainedGaps.length} | ${r.onlyInPostgres.length + r.onlyInMongo.length} | ${(fileOrder.get(r.source) ?? 0) + r.fileBadLines} |`,
        ),
        '',
        `dead letters: ${deadLetters}`,
        `generators drained cleanly: ${cleanDrains ? 'yes' : 'no'}`,
        `app lifetimes: ${scale.apps.map((app) => `${app.name} [${app.exits.join(', ') || 'running'}]`).join('; ')}`,
        '',
        passed
          ? 'PASS: nothing lost, duplicated or misnested, in order per source; the dead-letter queues are empty'
          : 'FAIL: see above',
        `logs: ${scale.logDir}`,
      ].join('\n'),
    );
    if (passed && !options.keepData) {
      for (const [i] of scale.generators.entries()) {
        await deleteSourceAt(options.databaseUrl, options.mongodbUrl, scale.sourceOf(i)).catch((error: unknown) =>
          log(`could not delete the run's rows and documents: ${errorText(error)}`),
        );
      }
    }
    return passed ? 0 : 1;
  } catch (error) {
    console.error(`chaos scale: ${errorText(error, true)}`);
    return 2;
  } finally {
    await Promise.all(scale.apps.map((app) => (app.running ? app.stop(45_000) : Promise.resolve(null))));
    for (const app of scale.apps) app.closeLog();
  }
}
