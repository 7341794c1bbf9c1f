import { join } from 'node:path';
import { serviceUrls, type ServiceUrls } from '../kit/services';

/** Every fault the chaos run knows, in the default schedule's order. */
export const FAULT_NAMES = [
  'rabbitmq',
  'postgres',
  'ferretdb',
  'kill-generator',
  'kill-filter',
  'kill-db-writer',
  'kill-mongo-writer',
  'handover-mongo-writer',
  'filter-dir-immutable',
  'both-route-rabbitmq',
  'rule-change-partial',
  'postgres-long',
  'ferretdb-hang',
  'kill-mongo-writer-again',
  'handover-mongo-writer-again',
] as const;

export type FaultName = (typeof FAULT_NAMES)[number];

export interface ChaosOptions extends ServiceUrls {
  /** Records a second the generator produces. */
  readonly rate: number;
  /** FILTER_THRESHOLD: randomValue above it goes to RabbitMQ; -1 sends every record to the queue. */
  readonly threshold: number;
  /** The faults to inject, in order. */
  readonly faults: readonly FaultName[];
  /** Seconds of traffic before the first fault. */
  readonly warmupS: number;
  /** Seconds each fault lasts (service down, app dead, directory immutable). */
  readonly outageS: number;
  /** Seconds of undisturbed traffic after a fault recovered, before the next one. */
  readonly gapS: number;
  /** Seconds a fault may take to recover (records flowing again) before it counts as not recovered. */
  readonly recoverTimeoutS: number;
  /** Seconds the final drain (generator stop, queues empty, writers idle) may take. */
  readonly drainTimeoutS: number;
  /** Hard bound of the whole run, in seconds. */
  readonly maxDurationS: number;
  /** The apps listen on basePort .. basePort+4 (generator, filter, db-writer, the two mongo-writers). */
  readonly basePort: number;
  /** Records a second published straight onto the exchange as a source of its own (0: none). */
  readonly directRate: number;
  /** Records per message of that stream. */
  readonly directBatch: number;
  /** RabbitMQ's delivery acknowledgement timeout for the run, in seconds (0: leave the broker's). */
  readonly consumerTimeoutS: number;
  /** Seconds the long database outages last (longer than the acknowledgement timeout). */
  readonly longOutageS: number;
  /** Where logs, the file sink, the generator state and the report go. */
  readonly runDir: string;
  /** Keep the run's rows and documents in PostgreSQL and MongoDB even when the run passed. */
  readonly keepData: boolean;
}

export const USAGE = `usage: npm run chaos -- [options]

Runs the four apps from dist/ against the local RabbitMQ, PostgreSQL and FerretDB, injects faults one
after another, drains, and reconciles every sink. Exits 0 only if nothing was lost, duplicated or
misnested and the dead-letter queues are empty. Run it under 'flock -o /tmp/dataflow-services.lock'.

  --scenario scale      another run: the partitioned topology on a local 3-node RabbitMQ cluster
                        (npm run chaos -- --scenario scale --help)

options (each also as an environment variable):
  --rate N              records a second (CHAOS_RATE, default 200)
  --threshold N         FILTER_THRESHOLD, -1 to 100; -1 sends every record to the queue
                        (CHAOS_THRESHOLD, default 90)
  --faults LIST         comma-separated faults in order, or "none" (CHAOS_FAULTS, default all:
                        ${FAULT_NAMES.join(',')})
  --warmup S            seconds of traffic before the first fault (CHAOS_WARMUP_S, default 15)
  --outage S            seconds each fault lasts (CHAOS_OUTAGE_S, default 10)
  --gap S               seconds of normal traffic after a recovery (CHAOS_GAP_S, default 12)
  --recover-timeout S   longest wait for records to flow again after a fault (CHAOS_RECOVER_TIMEOUT_S, 90)
  --drain-timeout S     longest wait for the final drain (CHAOS_DRAIN_TIMEOUT_S, default 120)
  --max-duration S      hard bound of the whole run (CHAOS_MAX_DURATION_S, default 1800)
  --base-port N         apps on N..N+4: generator, filter, db-writer, mongo-writer, its standby
                        (CHAOS_BASE_PORT, 3401)
  --direct-rate N       records a second published straight onto the exchange as a second source,
                        in large messages (CHAOS_DIRECT_RATE, default 500; 0 for none)
  --direct-batch N      records per message of that stream (CHAOS_DIRECT_BATCH, default 250)
  --consumer-timeout S  RabbitMQ's delivery acknowledgement timeout during the run, restored after
                        (CHAOS_CONSUMER_TIMEOUT_S, default 10; 0 leaves the broker's own)
  --long-outage S       how long postgres-long and ferretdb-hang last (CHAOS_LONG_OUTAGE_S, default 25)
  --run-dir DIR         logs, file sink, generator state (CHAOS_RUN_DIR, default data/chaos/<timestamp>)
  --keep-data           keep the run's PostgreSQL rows and MongoDB documents (CHAOS_KEEP_DATA=1);
                        by default they are deleted after a passing run and kept after a failing one
  -h, --help            this text

RABBITMQ_URL, DATABASE_URL and MONGODB_URL are passed to the apps and used for the reconciliation.`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const FLAGS: Record<string, string> = {
  '--rate': 'CHAOS_RATE',
  '--threshold': 'CHAOS_THRESHOLD',
  '--faults': 'CHAOS_FAULTS',
  '--warmup': 'CHAOS_WARMUP_S',
  '--outage': 'CHAOS_OUTAGE_S',
  '--gap': 'CHAOS_GAP_S',
  '--recover-timeout': 'CHAOS_RECOVER_TIMEOUT_S',
  '--drain-timeout': 'CHAOS_DRAIN_TIMEOUT_S',
  '--max-duration': 'CHAOS_MAX_DURATION_S',
  '--base-port': 'CHAOS_BASE_PORT',
  '--direct-rate': 'CHAOS_DIRECT_RATE',
  '--direct-batch': 'CHAOS_DIRECT_BATCH',
  '--consumer-timeout': 'CHAOS_CONSUMER_TIMEOUT_S',
  '--long-outage': 'CHAOS_LONG_OUTAGE_S',
  '--run-dir': 'CHAOS_RUN_DIR',
};

/**
 * The values of `flags` (flag → environment variable) from the environment, overridden by the
 * command line (`--flag value` or `--flag=value`), and `--keep-data`; 'help' for -h or --help.
 */
export function readFlags(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  flags: Readonly<Record<string, string>>,
): { values: Record<string, string | undefined>; keepData: boolean } | 'help' {
  const values: Record<string, string | undefined> = {};
  for (const name of Object.values(flags)) values[name] = env[name] === '' ? undefined : env[name];
  let keepData = isTrue(env.CHAOS_KEEP_DATA);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h' || arg === '--help') return 'help';
    if (arg === '--keep-data') {
      keepData = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const variable = flags[flag];
    if (!variable) throw new UsageError(`unknown option ${arg}`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    values[variable] = value;
  }
  return { values, keepData };
}

/** Command-line flags win over environment variables, which win over the defaults. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv, now = new Date()): ChaosOptions | 'help' {
  const flags = readFlags(argv, env, FLAGS);
  if (flags === 'help') return 'help';
  const { values, keepData } = flags;

  const stamp = now.toISOString().replace(/[:.]/g, '-');
  return {
    rate: number(values, 'CHAOS_RATE', 200, 1, 100_000, false),
    threshold: number(values, 'CHAOS_THRESHOLD', 90, -1, 100, true),
    faults: faultList(values.CHAOS_FAULTS),
    warmupS: number(values, 'CHAOS_WARMUP_S', 15, 1, 3600, false),
    outageS: number(values, 'CHAOS_OUTAGE_S', 10, 1, 600, false),
    gapS: number(values, 'CHAOS_GAP_S', 12, 0, 3600, false),
    recoverTimeoutS: number(values, 'CHAOS_RECOVER_TIMEOUT_S', 90, 5, 3600, false),
    drainTimeoutS: number(values, 'CHAOS_DRAIN_TIMEOUT_S', 120, 10, 3600, false),
    maxDurationS: number(values, 'CHAOS_MAX_DURATION_S', 1800, 30, 24 * 3600, false),
    basePort: number(values, 'CHAOS_BASE_PORT', 3401, 1024, 65_530, true),
    directRate: number(values, 'CHAOS_DIRECT_RATE', 500, 0, 100_000, false),
    directBatch: number(values, 'CHAOS_DIRECT_BATCH', 250, 1, 10_000, true),
    consumerTimeoutS: number(values, 'CHAOS_CONSUMER_TIMEOUT_S', 10, 0, 3600, false),
    longOutageS: number(values, 'CHAOS_LONG_OUTAGE_S', 25, 1, 600, false),
    runDir: values.CHAOS_RUN_DIR ?? join(process.cwd(), 'data', 'chaos', stamp),
    keepData,
    ...serviceUrls({}, env),
  };
}

/** The number `variable` holds, range-checked; the fallback when unset. `flags` name it in errors. */
export function number(
  values: Record<string, string | undefined>,
  variable: string,
  fallback: number,
  min: number,
  max: number,
  integer: boolean,
  flags: Readonly<Record<string, string>> = FLAGS,
): number {
  const text = values[variable];
  if (text === undefined) return fallback;
  const value = Number(text);
  const flag = Object.keys(flags).find((key) => flags[key] === variable) ?? variable;
  if (text.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new UsageError(`${flag} (${variable}): expected ${integer ? 'an integer' : 'a number'}, got "${text}"`);
  }
  if (value < min || value > max) {
    throw new UsageError(`${flag} (${variable}): must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function faultList(text: string | undefined): FaultName[] {
  if (text === undefined) return [...FAULT_NAMES];
  if (text.trim() === 'none') return [];
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  for (const name of names) {
    if (!(FAULT_NAMES as readonly string[]).includes(name)) {
      throw new UsageError(`--faults: unknown fault "${name}" (known: ${FAULT_NAMES.join(', ')})`);
    }
  }
  return names as FaultName[];
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes'].includes(value.toLowerCase());
}
