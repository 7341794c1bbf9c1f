/**
 * `npm run chaos`: the whole pipeline under faults, then a reconciliation of every sink.
 * See docs/chaos.md. Run it under `flock -o /tmp/dataflow-services.lock`: it stops and starts the
 * shared RabbitMQ, PostgreSQL and FerretDB.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { missingBuilds } from '../kit/app-process';
import { INSTANCE_NAMES, InstanceName } from './apps';
import { buildFault, Cleanup } from './faults';
import { ChaosOptions, parseOptions, USAGE, UsageError } from './options';
import { FaultObservation, Pipeline } from './pipeline';
import { deleteSourceAt, fileSinkRecords, readDatabases } from '../kit/stores';
import { DirectReconciliation, reconcile, reconcileDirect, Reconciliation } from './reconcile';
import { directReport, faultTable, reconciliationReport, totalsOf, totalsReport } from './report';
import { applyConsumerTimeout, listQueues, servicesStatus, setConsumerTimeout } from '../kit/services';
import {
  ALL_QUEUES,
  clearImmutable,
  DEAD_LETTER_QUEUES,
  emergencyRestore,
  immutableEntries,
  RECORD_QUEUES,
} from './services';
import { sleep, waitUntil } from '../kit/wait';
import { abortRun, AbortedError, runAborted, runSignal } from './abort';
import { errorText } from '../kit/tool';
import { parseScaleOptions, runScale, SCALE_USAGE, type ScaleOptions } from './scale';

const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 45_000;

function log(text: string): void {
  console.log(`chaos: ${text}`);
}

/**
 * `flock FILE command` (without -o) hands its lock descriptor down to the command. Every process
 * this runner starts would inherit it, and a service it restarts (a FerretDB or PostgreSQL
 * daemon) would keep the lock after the run has ended, so nobody could take it again. Closing
 * our copy does not release the lock: flock itself still holds it until the run ends.
 */
function closeInheritedLockDescriptors(): string[] {
  const closed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc/self/fd');
  } catch {
    return closed;
  }
  for (const entry of entries) {
    const fd = Number(entry);
    if (!Number.isInteger(fd) || fd <= 2) continue;
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (!target.endsWith('.lock')) continue;
      closeSync(fd);
      closed.push(`${fd} (${target})`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return closed;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The part of an app's log written since its last start. */
function lastLifetimeLog(file: string): string {
  if (!existsSync(file)) return '';
  const text = readFileSync(file, 'utf8');
  const marker = text.lastIndexOf('===== start #');
  return marker >= 0 ? text.slice(marker) : text;
}

async function startPipeline(pipeline: Pipeline): Promise<void> {
  const { apps } = pipeline;
  // Writers and filter first (they declare the topology), the generator last. The first
  // mongo-writer to subscribe is the active consumer, the second its standby.
  await Promise.all([apps['db-writer'].start(START_TIMEOUT_MS), apps['mongo-writer'].start(START_TIMEOUT_MS)]);
  await apps['mongo-writer'].ready(START_TIMEOUT_MS);
  await apps['mongo-writer-b'].start(START_TIMEOUT_MS);
  await apps.filter.start(START_TIMEOUT_MS);
  await Promise.all(
    (['db-writer', 'mongo-writer-b', 'filter'] as InstanceName[]).map((name) => apps[name].ready(START_TIMEOUT_MS)),
  );
  await pipeline.startGenerator(START_TIMEOUT_MS);
  await apps.generator.ready(START_TIMEOUT_MS);
  pipeline.direct.start();
}

async function runFaults(pipeline: Pipeline, cleanup: Cleanup, observations: FaultObservation[]): Promise<void> {
  const { options } = pipeline;
  for (const [index, name] of options.faults.entries()) {
    const fault = buildFault(name, pipeline, cleanup);
    const observation = pipeline.beginObservation(name, fault.description);
    observations.push(observation);
    log(
      `fault ${index + 1}/${options.faults.length} ${name} at +${observation.startS.toFixed(0)} s: ${fault.description}`,
    );
    const started = Date.now();
    try {
      await fault.inject(pipeline);
      await sleep((fault.outageS ?? options.outageS) * 1000, runSignal());
      await fault.restore(pipeline);
      const restored = Date.now();
      observation.outageS = (restored - started) / 1000;
      const marks = pipeline.flowMarks();
      await waitUntil(() => pipeline.flowingSince(marks), options.recoverTimeoutS * 1000, `${name} to recover`, {
        intervalMs: 250,
        signal: runSignal(),
      });
      observation.recoverS = (Date.now() - restored) / 1000;
    } catch (error) {
      if (error instanceof AbortedError) throw error;
      observation.errors.push(errorText(error));
      log(`fault ${name}: ${errorText(error)}`);
      // Put things back before going on; the final reconciliation still tells what it cost.
      for (const failure of await cleanup.runAll()) observation.errors.push(`restore ${failure}`);
      for (const app of INSTANCE_NAMES) {
        if (!pipeline.apps[app].running) {
          try {
            if (app === 'generator') await pipeline.startGenerator(START_TIMEOUT_MS);
            else await pipeline.apps[app].start(START_TIMEOUT_MS);
          } catch (startError) {
            observation.errors.push(`restart ${app}: ${errorText(startError)}`);
          }
        }
      }
    } finally {
      pipeline.endObservation();
    }
    log(
      `fault ${name}: outage ${observation.outageS?.toFixed(1) ?? '-'} s, ` +
        `recovered ${observation.recoverS !== undefined ? `${observation.recoverS.toFixed(1)} s after the restore` : 'NOT'}`,
    );
    await sleep(options.gapS * 1000, runSignal());
  }
}

interface DrainResult {
  readonly exits: Record<InstanceName, string>;
  readonly notes: string[];
  /** Failures: the drain did not complete, messages were left in a record queue. */
  readonly problems: string[];
}

/** SIGTERM the generator (it drains), wait for empty queues and idle writers, stop the rest. */
async function drain(pipeline: Pipeline): Promise<DrainResult> {
  const { apps, options } = pipeline;
  const notes: string[] = [];
  for (const name of INSTANCE_NAMES) {
    if (!apps[name].running) {
      notes.push(`${name} was not running before the drain; restarted`);
      if (name === 'generator') await pipeline.startGenerator(START_TIMEOUT_MS);
      else await apps[name].start(START_TIMEOUT_MS);
    }
  }
  log(`stopping the direct publisher (${pipeline.direct.confirmed.length} records confirmed)`);
  await pipeline.direct.stop();
  log('stopping the generator (SIGTERM, it drains)');
  const generator = apps.generator;
  pipeline.sampleGenerator(await generator.metrics());
  const exit = generator.stop(STOP_TIMEOUT_MS);
  let exited = false;
  void exit.then(() => {
    exited = true;
  });
  // Keep reading its counters while it drains: the last answer before it exits is the final one.
  while (!exited) {
    pipeline.sampleGenerator(await generator.metrics(500));
    await sleep(100);
  }
  const code = await exit;
  const unacknowledgedLine = /records were not acknowledged before shutdown/.exec(lastLifetimeLog(generator.logFile));
  const clean = code === 0 && unacknowledgedLine === null;
  if (!clean)
    notes.push(
      `generator drain was not clean (exit ${String(code)}${unacknowledgedLine ? ', unacknowledged records logged' : ''})`,
    );
  pipeline.endGenerator('stopped', clean);

  log('waiting for the record queues to empty and the writers to go idle');
  const problems: string[] = [];
  let queues: Awaited<ReturnType<typeof listQueues>>;
  try {
    await waitUntil(
      async () => {
        queues = await listQueues();
        return RECORD_QUEUES.every((q) => queues?.get(q)?.messages === 0 && queues.get(q)?.unacknowledged === 0);
      },
      options.drainTimeoutS * 1000,
      'the record queues to empty (rabbitmqctl list_queues)',
      { intervalMs: 1000, signal: runSignal() },
    );
    let last = '';
    let stableSince = Date.now();
    await waitUntil(
      () => {
        const marks = JSON.stringify(pipeline.flowMarks());
        if (marks !== last) {
          last = marks;
          stableSince = Date.now();
        }
        return Date.now() - stableSince >= 3000;
      },
      options.drainTimeoutS * 1000,
      'the writers to go idle',
      { intervalMs: 500, signal: runSignal() },
    );
  } catch (error) {
    if (error instanceof AbortedError) throw error;
    // Not fatal: the stores are still reconciled, and the stuck messages are reported.
    const counts = RECORD_QUEUES.map(
      (q) =>
        `${q} ${queues?.get(q)?.messages ?? '?'} messages (${queues?.get(q)?.unacknowledged ?? '?'} unacknowledged)`,
    );
    problems.push(`drain incomplete: ${errorText(error)}; ${counts.join(', ')}`);
    log(problems[problems.length - 1] as string);
  }

  const stopping: InstanceName[] = ['filter', 'db-writer', 'mongo-writer', 'mongo-writer-b'];
  log(`stopping ${stopping.join(', ')} (SIGTERM)`);
  const codes = await Promise.all(stopping.map((name) => apps[name].stop(STOP_TIMEOUT_MS)));
  const exits = Object.fromEntries(INSTANCE_NAMES.map((name) => [name, apps[name].exits.join(', ')])) as Record<
    InstanceName,
    string
  >;
  codes.forEach((value, i) => {
    if (value !== 0) notes.push(`${stopping[i]} exited with ${String(value)} on SIGTERM`);
  });
  // Whatever is still in a record queue now was never stored by its writer.
  const after = await listQueues();
  for (const queue of RECORD_QUEUES) {
    const left = after?.get(queue)?.messages;
    if (left === undefined) problems.push(`could not read ${queue} after the drain`);
    else if (left > 0) problems.push(`${left} messages left in ${queue} after the writers stopped (purged)`);
  }
  // The queues are shared: leave nothing of this run for the next consumer.
  if (problems.some((p) => p.includes('left in'))) await pipeline.probe.purge(RECORD_QUEUES).catch(() => undefined);
  return { exits, notes, problems };
}

async function deadLetters(pipeline: Pipeline): Promise<{ count: number; reasons: string[] }> {
  const depths = await pipeline.probe.depths(DEAD_LETTER_QUEUES);
  if (!depths) throw new Error('could not read the dead-letter queues');
  let count = 0;
  const reasons: string[] = [];
  for (const [queue, depth] of depths) {
    count += depth;
    if (depth > 0) reasons.push(...(await pipeline.probe.peekReasons(queue)).map((r) => `${queue}: ${r}`));
  }
  return { count, reasons };
}

async function readStores(pipeline: Pipeline): Promise<Reconciliation> {
  const { options, source } = pipeline;
  const files = await fileSinkRecords(pipeline.outputDir, source);
  const { postgresRecords, mongoDocuments } = await readDatabases(options.databaseUrl, options.mongodbUrl, source);
  return reconcile(
    source,
    options.threshold,
    pipeline.lifetimes,
    { fileRecords: files.records, fileBadLines: files.badLines, postgresRecords, mongoDocuments },
    pipeline.routeWindows,
  );
}

async function readDirect(pipeline: Pipeline): Promise<DirectReconciliation> {
  const { options, direct } = pipeline;
  const { postgresRecords, mongoDocuments } = await readDatabases(
    options.databaseUrl,
    options.mongodbUrl,
    direct.source,
  );
  return reconcileDirect(direct.source, direct.confirmed, direct.unsettled, postgresRecords, mongoDocuments);
}

function describe(options: ChaosOptions, source: string): string {
  return [
    `run dir ${options.runDir}`,
    `source ${source}, rate ${options.rate}/s, threshold ${options.threshold}` +
      (options.threshold < 0 ? ' (every record to the queue)' : ''),
    `apps on ports ${options.basePort}..${options.basePort + 4} (generator, filter, db-writer, mongo-writer and its standby)`,
    options.directRate > 0
      ? `source ${source}-direct: ${options.directRate} records/s straight onto the exchange, ${options.directBatch} a message`
      : 'no direct stream',
    options.consumerTimeoutS > 0
      ? `RabbitMQ delivery acknowledgement timeout ${options.consumerTimeoutS} s during the run`
      : "the broker's own delivery acknowledgement timeout",
    `schedule: warm-up ${options.warmupS} s, then ${options.faults.length > 0 ? options.faults.join(', ') : 'no faults'}` +
      ` (${options.outageS} s outage each, ${options.gapS} s of normal traffic after each recovery)`,
    `bounded to ${options.maxDurationS} s`,
  ].join('\n       ');
}

async function main(): Promise<number> {
  const scenario = process.argv.indexOf('--scenario');
  if (scenario >= 0)
    return runScenario(
      process.argv[scenario + 1],
      process.argv.slice(2).filter((_, i) => i !== scenario - 2 && i !== scenario - 1),
    );
  let options: ChaosOptions;
  try {
    const parsed = parseOptions(process.argv.slice(2), process.env);
    if (parsed === 'help') {
      console.log(USAGE);
      return 0;
    }
    options = parsed;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`chaos: ${error.message}\n\n${USAGE}`);
      return 64;
    }
    throw error;
  }
  const closed = closeInheritedLockDescriptors();
  if (closed.length > 0)
    log(`closed inherited lock descriptors ${closed.join(', ')} (so no restarted service keeps them)`);
  const refused = cannotRun('it stops services and uses chattr');
  if (refused !== undefined) return refused;
  for (let offset = 0; offset < INSTANCE_NAMES.length; offset++) {
    if (!(await portFree(options.basePort + offset))) {
      console.error(`chaos: port ${options.basePort + offset} is in use; choose another --base-port`);
      return 2;
    }
  }

  const stamp = new Date()
    .toISOString()
    .replace(/[-:.TZ]/g, '')
    .slice(0, 14);
  const source = `chaos-${stamp}-${randomBytes(3).toString('hex')}`;
  const pipeline = new Pipeline(options, source);
  for (const dir of [options.runDir, pipeline.stateDir, pipeline.outputDir, pipeline.logDir]) {
    mkdirSync(dir, { recursive: true });
  }
  const cleanup = new Cleanup();
  const observations: FaultObservation[] = [];
  /** The broker's delivery acknowledgement timeout before the run changed it, to put back. */
  let previousTimeout: { timeoutMs: number; tickMs: number } | undefined;
  log(describe(options, source));

  // Bounds: the run is aborted at its maximum duration (waits throw, the finally block restores
  // and stops everything); if even that hangs, a hard limit restores synchronously and exits.
  let abortReason = '';
  let abortCode = 2;
  const abort = (reason: string, code: number): void => {
    if (runAborted()) return;
    abortReason = reason;
    abortCode = code;
    log(`aborting: ${reason}`);
    abortRun(reason);
  };
  setTimeout(
    () => abort(`maximum duration of ${options.maxDurationS} s reached`, 2),
    options.maxDurationS * 1000,
  ).unref();
  const hardLimit = setTimeout(
    () => {
      console.error('chaos: clean-up did not finish in time; restoring synchronously and exiting');
      emergencyRestore(cleanup.keys, pipeline.outputDir, previousTimeout);
      pipeline.killAllNow();
      process.exit(3);
    },
    options.maxDurationS * 1000 + 180_000,
  );
  hardLimit.unref();
  let signals = 0;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      signals++;
      if (signals === 1) {
        abort(`interrupted by ${signal}`, 130);
        return;
      }
      console.error(`chaos: second ${signal}: restoring synchronously and exiting`);
      emergencyRestore(cleanup.keys, pipeline.outputDir, previousTimeout);
      pipeline.killAllNow();
      process.exit(130);
    });
  }
  process.on('exit', () => pipeline.killAllNow());

  let exitCode = 1;
  try {
    const status = await servicesStatus();
    if (status.code !== 0) throw new Error(`services are not all up (scripts/infra.sh up):\n${status.output}`);
    await pipeline.probe.declare();
    const purged = await pipeline.probe.purge(ALL_QUEUES);
    log(`purged the queues at start: ${[...purged].map(([q, n]) => `${q} ${n}`).join(', ')}`);
    if (options.consumerTimeoutS > 0) {
      // Before the writers start: a channel keeps the timeout it was opened with.
      previousTimeout = await setConsumerTimeout(options.consumerTimeoutS * 1000);
    }

    await startPipeline(pipeline);
    pipeline.startSampler();
    log(`pipeline up; warm-up ${options.warmupS} s`);
    const start = pipeline.flowMarks();
    await sleep(options.warmupS * 1000, runSignal());
    await waitUntil(() => pipeline.flowingSince(start), 30_000, 'records to flow end to end before the first fault', {
      signal: runSignal(),
    });

    await runFaults(pipeline, cleanup, observations);
    const drained = await drain(pipeline);
    await pipeline.stopSampler();

    const dlq = await deadLetters(pipeline);
    log('reading the file sink, PostgreSQL and MongoDB');
    const result = await readStores(pipeline);
    const direct = await readDirect(pipeline);
    const totals = totalsOf(result, direct, dlq.count);
    const unrecovered = observations.filter((o) => o.recoverS === undefined).map((o) => o.name);
    const sinkProblems =
      result.unexplainedGaps.length +
      result.onlyInPostgres.length +
      result.onlyInMongo.length +
      result.misrouted.length +
      result.corrupt.length +
      result.fileBadLines +
      direct.onlyInPostgres.length +
      direct.onlyInMongo.length;
    const passed =
      totals.lost === 0 &&
      result.lostGlobal === 0 &&
      totals.duplicated === 0 &&
      totals.misnested === 0 &&
      totals.dlq === 0 &&
      sinkProblems === 0 &&
      drained.problems.length === 0 &&
      unrecovered.length === 0;

    const report = [
      '',
      `faults (${observations.length}):`,
      faultTable(observations),
      '',
      reconciliationReport(result, options.threshold),
      '',
      directReport(direct),
      `dead letters: ${dlq.count}${dlq.reasons.length > 0 ? '' : ' (the DLQs were purged at the start)'}`,
      ...dlq.reasons.slice(0, 20).map((r) => `  ${r}`),
      `app lifetimes: ${INSTANCE_NAMES.map((name) => `${name} [${drained.exits[name]}]`).join('; ')}`,
      ...drained.notes.map((note) => `note: ${note}`),
      ...drained.problems.map((problem) => `FAILED: ${problem}`),
      ...(unrecovered.length > 0 ? [`not recovered: ${unrecovered.join(', ')}`] : []),
      '',
      'totals:',
      totalsReport(totals),
      '',
      passed
        ? 'PASS: nothing lost, duplicated or misnested; the dead-letter queues are empty'
        : 'FAIL: see above' + (sinkProblems > 0 ? ` (${sinkProblems} sink inconsistencies)` : ''),
      `logs: ${pipeline.logDir}`,
    ].join('\n');
    console.log(report);
    writeFileSync(join(options.runDir, 'report.txt'), `${report}\n`);
    writeFileSync(
      join(options.runDir, 'result.json'),
      `${JSON.stringify({ options, source, totals, passed, result, direct, observations: observations.map(serializable) }, null, 2)}\n`,
    );
    if (passed && !options.keepData) {
      for (const name of [source, pipeline.direct.source]) {
        await deleteSourceAt(options.databaseUrl, options.mongodbUrl, name).catch((error: unknown) =>
          log(`could not delete the run's rows and documents: ${errorText(error)}`),
        );
      }
    } else {
      log(`kept the run's rows and documents (source ${source})`);
    }
    exitCode = passed ? 0 : 1;
  } catch (error) {
    if (error instanceof AbortedError || runAborted()) {
      log(`aborted (${abortReason || errorText(error)}); no reconciliation`);
      exitCode = abortCode;
    } else {
      console.error(`chaos: ${errorText(error, true)}`);
      exitCode = 2;
    }
    if (observations.length > 0) console.log(`\nfaults so far:\n${faultTable(observations)}`);
  } finally {
    await pipeline.stopSampler();
    for (const failure of await cleanup.runAll()) console.error(`chaos: restore failed: ${failure}`);
    if (existsSync(pipeline.outputDir)) {
      await clearImmutable(pipeline.outputDir).catch((error: unknown) => console.error(`chaos: ${errorText(error)}`));
      const left = await immutableEntries(pipeline.outputDir);
      if (left.length > 0) console.error(`chaos: still immutable: ${left.join(', ')}`);
    }
    await pipeline.direct.stop();
    for (const name of INSTANCE_NAMES) {
      const app = pipeline.apps[name];
      if (app.running) await app.stop(STOP_TIMEOUT_MS);
      app.closeLog();
    }
    if (previousTimeout) {
      await applyConsumerTimeout(previousTimeout).catch((error: unknown) =>
        console.error(`chaos: could not restore the delivery acknowledgement timeout: ${errorText(error)}`),
      );
    }
    await pipeline.probe.close();
    const status = await servicesStatus();
    if (status.code !== 0) {
      console.error(`chaos: services not all up after the run:\n${status.output}`);
      if (exitCode === 0) exitCode = 2;
    }
  }
  return exitCode;
}

/** Exit code 2 with the reason when a run cannot start here (not root, no build); undefined if it can. */
function cannotRun(whyRoot: string): number | undefined {
  if (process.getuid?.() !== 0) {
    console.error(`chaos: must run as root (${whyRoot})`);
    return 2;
  }
  const missing = missingBuilds();
  if (missing.length > 0) {
    console.error(`chaos: no build of ${missing.join(', ')} in dist/; run npm run build first`);
    return 2;
  }
  return undefined;
}

/** `--scenario NAME`: `default` is this file's run, `scale` the partitioned cluster run (scale.ts). */
async function runScenario(name: string | undefined, argv: readonly string[]): Promise<number> {
  if (name === 'default') {
    process.argv = [...process.argv.slice(0, 2), ...argv];
    return main();
  }
  if (name !== 'scale') {
    console.error(`chaos: unknown scenario "${name ?? ''}" (known: default, scale)`);
    return 64;
  }
  let options: ScaleOptions;
  try {
    const parsed = parseScaleOptions(argv, process.env);
    if (parsed === 'help') {
      console.log(SCALE_USAGE);
      return 0;
    }
    options = parsed;
  } catch (error) {
    console.error(`chaos: ${errorText(error)}\n\n${SCALE_USAGE}`);
    return 64;
  }
  return cannotRun('it starts and kills RabbitMQ nodes') ?? runScale(options);
}

function serializable(observation: FaultObservation): Record<string, unknown> {
  return {
    ...observation,
    breakers: Object.fromEntries(observation.breakers),
    notReady: [...observation.notReady],
  };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`chaos: ${errorText(error, true)}`);
    process.exit(2);
  },
);
