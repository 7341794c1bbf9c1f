import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { nestStream, partitionQueue, type DataRecord, type Sink } from '@dataflow/contracts';
import { AppProcess, LOG_DIR, sleep, waitFor } from '../support/app-process';
import { RABBITMQ_CLUSTER_URLS, RabbitProbe } from '../support/rabbit';
import { highOrLow } from '../support/records';
import { flatten, Stores } from '../support/stores';
import { prng } from '../support/prng';

const PARTITIONS = 4;
const SOURCES = 24;
const PER_PHASE = 60;
const PER_MESSAGE = 10;
/** The writers' standby subscriptions start this long after their preferred ones (the server's default). */
const STANDBY_DELAY_MS = 5000;
/** How often a writer hands back a partition it does not prefer (short, so the spec sees it). */
const REBALANCE_MS = 2000;

/** One committed write of the commit log: `<epoch ms> <source> <first seq> <last seq>`. */
interface Commit {
  readonly at: number;
  readonly source: string;
}

function commits(file: string): Commit[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const [at, source] = line.split(' ');
      return { at: Number(at), source: source ?? '' };
    });
}

/**
 * The partitioned topology on the three-node cluster of `scripts/infra.sh cluster up`: two writers
 * per sink share the partitions (each active on its preferred ones, the standby of the others),
 * a SIGKILLed writer's partitions move to the other, and every record is stored exactly once, in
 * order, with no source ever written by two writers at once.
 */
describe('partitioned queues on a three-node cluster: writers scale out', () => {
  let rabbit: RabbitProbe;
  let stores: Stores;
  const writers: AppProcess[] = [];
  const run = `pt-${process.pid}`;
  const sources = Array.from({ length: SOURCES }, (_, i) => `${run}-${i}`);
  const random = prng(15);
  const streams = new Map<string, DataRecord[]>(
    sources.map((source) => [
      source,
      Array.from({ length: 3 * PER_PHASE }, (_, i) => highOrLow(source, i + 1, random() < 0.6)),
    ]),
  );

  beforeAll(async () => {
    const [first] = RABBITMQ_CLUSTER_URLS;
    rabbit = await RabbitProbe.connect({ url: first, partitions: PARTITIONS });
    await rabbit.redeclare();
    stores = await Stores.connect();
  });

  afterAll(async () => {
    await Promise.all(writers.splice(0).map((writer) => writer.kill()));
    for (const source of sources) await stores.deleteSource(source);
    await rabbit.close();
    await stores.close();
  });

  function commitLog(app: string, port: number): string {
    return join(LOG_DIR, `${app}-${port}.commits`);
  }

  async function startWriter(app: 'db-writer' | 'mongo-writer', port: number, ordinal: number): Promise<AppProcess> {
    const prefix = app === 'db-writer' ? 'DB_WRITER' : 'MONGO_WRITER';
    rmSync(commitLog(app, port), { force: true });
    const writer = new AppProcess(app, port, {
      // Each writer on another node: a partition's consumers are spread over the cluster.
      RABBITMQ_URL: RABBITMQ_CLUSTER_URLS[ordinal % RABBITMQ_CLUSTER_URLS.length] ?? '',
      RECORD_PARTITIONS: String(PARTITIONS),
      [`${prefix}_ORDINAL`]: String(ordinal),
      [`${prefix}_REPLICAS`]: '2',
      [`${prefix}_BATCH_MS`]: '20',
      [`${prefix}_REBALANCE_MS`]: String(REBALANCE_MS),
      [`${prefix}_COMMIT_LOG`]: commitLog(app, port),
    });
    writers.push(writer);
    await writer.start();
    await waitFor(async () => (await writer.get('/health/ready')).status === 200, 60_000, `${app} ${port} ready`);
    return writer;
  }

  /** Publishes each source's records `from`..`to` (1-based, inclusive of from), sources interleaved. */
  async function publish(from: number, to: number, between?: (message: number) => Promise<void>): Promise<void> {
    let message = 0;
    for (let seq = from; seq <= to; seq += PER_MESSAGE) {
      for (const source of sources) {
        const records = (streams.get(source) ?? []).slice(seq - 1, Math.min(seq - 1 + PER_MESSAGE, to));
        await rabbit.publishRecords(records);
        await between?.(++message);
      }
    }
  }

  async function storedExactly(upTo: number): Promise<void> {
    await waitFor(
      async () => {
        for (const source of sources) {
          if ((await stores.postgresRows(source)).length < upTo) return false;
          if (flatten(await stores.mongoDocuments(source)).length < upTo) return false;
        }
        return true;
      },
      120_000,
      `${upTo} records of each source in both stores`,
    );
    await sleep(500); // anything extra (a repeat, a late copy) would have arrived by now
    for (const source of sources) {
      const records = (streams.get(source) ?? []).slice(0, upTo);
      expect(await stores.postgresRows(source)).toEqual(records);
      expect(await stores.mongoDocuments(source)).toEqual(nestStream(records));
    }
  }

  /**
   * The sources each writer committed. And fencing: a source's commits, in time order, change writer
   * only at a hand-over, so they form at most `maxRuns` runs of one writer each; two writers writing a
   * source at once would alternate.
   */
  function ownership(logs: readonly string[], maxRuns: number): Set<string>[] {
    const perWriter = logs.map((file) => commits(file).filter((c) => sources.includes(c.source)));
    const interleaved: string[] = [];
    for (const source of sources) {
      const timeline = perWriter
        .flatMap((list, writer) => list.filter((c) => c.source === source).map((c) => ({ at: c.at, writer })))
        .sort((a, b) => a.at - b.at);
      const runs = timeline.filter((c, i) => i === 0 || c.writer !== timeline[i - 1]?.writer).length;
      if (runs > maxRuns) interleaved.push(`${source}: ${runs} runs`);
    }
    expect(interleaved).toEqual([]);
    return perWriter.map((list) => new Set(list.map((c) => c.source)));
  }

  async function depths(sink: Sink): Promise<number> {
    let total = 0;
    for (let p = 0; p < PARTITIONS; p++) total += await rabbit.depth(partitionQueue(sink, p, PARTITIONS));
    return total;
  }

  it('shares the partitions between two writers per sink, moves a killed writer’s partitions and back after its restart, and stores every record once', async () => {
    // Started together, as a StatefulSet with parallel pod management starts them: each subscribes to
    // its preferred partitions at once and to the others as the standby, 5 s later.
    const [mongoA, , dbA] = await Promise.all([
      startWriter('mongo-writer', 3761, 0),
      startWriter('mongo-writer', 3762, 1),
      startWriter('db-writer', 3763, 0),
      startWriter('db-writer', 3764, 1),
    ]);
    if (!mongoA || !dbA) throw new Error('writers did not start');
    await sleep(STANDBY_DELAY_MS + 1000);

    await publish(1, PER_PHASE);
    await storedExactly(PER_PHASE);
    const mongoLogs = [commitLog('mongo-writer', 3761), commitLog('mongo-writer', 3762)];
    const dbLogs = [commitLog('db-writer', 3763), commitLog('db-writer', 3764)];
    // Balanced: each writer is active on its preferred partitions, so both wrote, and no source twice.
    for (const logs of [mongoLogs, dbLogs]) {
      const [a, b] = ownership(logs, 1);
      expect(a?.size).toBeGreaterThan(0);
      expect(b?.size).toBeGreaterThan(0);
      expect((a?.size ?? 0) + (b?.size ?? 0)).toBe(SOURCES);
    }
    const [ownedByA] = ownership(mongoLogs, 1);
    const [dbOwnedByA] = ownership(dbLogs, 1);

    // Writer A of each sink is SIGKILLed a third of the way through the second phase.
    const killAfter = Math.floor((PER_PHASE / PER_MESSAGE) * SOURCES * (1 / 3));
    await publish(PER_PHASE + 1, 2 * PER_PHASE, async (message) => {
      if (message === killAfter) await Promise.all([mongoA.kill(), dbA.kill()]);
    });
    await storedExactly(2 * PER_PHASE);
    // The survivors took over A's partitions: B wrote A's sources after A stopped, never alongside.
    const [, afterB] = ownership(mongoLogs, 2);
    for (const source of ownedByA ?? []) expect(afterB?.has(source)).toBe(true);
    ownership(dbLogs, 2);

    // A comes back as the standby of everything (RabbitMQ 3.x keeps the active consumer); B hands
    // the partitions A prefers back to it, one every REBALANCE_MS, once both are subscribed.
    const restarted = Date.now();
    await Promise.all([mongoA.start(), dbA.start()]);
    // Records keep coming, spread over several rebalancing rounds: a writer hands back only a
    // partition it is active on, which it knows by its deliveries.
    await publish(2 * PER_PHASE + 1, 3 * PER_PHASE, () => sleep(100));
    await storedExactly(3 * PER_PHASE);
    for (const [logs, owned] of [
      [mongoLogs, ownedByA],
      [dbLogs, dbOwnedByA],
    ] as const) {
      const backToA = new Set(
        commits(logs[0] ?? '')
          .filter((c) => c.at >= restarted)
          .map((c) => c.source),
      );
      expect([...(owned ?? [])].filter((source) => !backToA.has(source))).toEqual([]);
      ownership(logs, 3);
    }
    expect(await depths('mongo')).toBe(0);
    expect(await depths('postgres')).toBe(0);
  });
});
