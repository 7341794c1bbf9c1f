import type { InstanceName } from './apps';
import type { FaultName } from './options';
import { Pipeline, TRACKED, TrackedName } from './pipeline';
import {
  ferretdbSignal,
  ferretdbStart,
  ferretdbStop,
  postgresStart,
  postgresStop,
  rabbitmqStart,
  rabbitmqStop,
} from '../kit/services';
import { clearImmutable, makeImmutable } from './services';
import { sleep, waitUntil } from '../kit/wait';
import { runSignal } from './abort';
import { errorText } from '../kit/tool';

export interface Fault {
  readonly name: FaultName;
  readonly description: string;
  /** Causes the fault; registers its restore with the cleanup before it acts. */
  inject(pipeline: Pipeline): Promise<void>;
  /** Ends the fault and waits until the broken part is back (service answering, app live). */
  restore(pipeline: Pipeline): Promise<void>;
  /** How long the fault lasts, when not the run's `--outage`. */
  readonly outageS?: number;
}

const APP_START_TIMEOUT_MS = 90_000;

/**
 * Restores that must run however the run ends: registered before a fault acts, removed once its
 * restore succeeded. The runner's finally block (and the SIGINT path) runs what is left.
 */
export class Cleanup {
  private readonly pending = new Map<string, () => Promise<void>>();

  add(key: string, restore: () => Promise<void>): void {
    this.pending.set(key, restore);
  }

  done(key: string): void {
    this.pending.delete(key);
  }

  get keys(): string[] {
    return [...this.pending.keys()];
  }

  /** Runs every pending restore (each once, errors collected). */
  async runAll(): Promise<string[]> {
    const errors: string[] = [];
    for (const [key, restore] of [...this.pending]) {
      try {
        await restore();
        this.pending.delete(key);
      } catch (error) {
        errors.push(`${key}: ${errorText(error)}`);
      }
    }
    return errors;
  }
}

/** Cleanup keys by what they put back, so the emergency restore knows them (see emergencyRestore). */
type CleanupKey = 'rabbitmq' | 'postgres' | 'ferretdb' | 'ferretdb-hang' | 'immutable' | 'rules';

function serviceFault(
  name: FaultName,
  key: CleanupKey,
  description: string,
  stop: () => Promise<void>,
  start: () => Promise<void>,
  cleanup: Cleanup,
  outageS?: number,
): Fault {
  return {
    name,
    description,
    outageS,
    async inject() {
      cleanup.add(key, start);
      await stop();
    },
    async restore() {
      await start();
      cleanup.done(key);
    },
  };
}

function resetTrackersOf(pipeline: Pipeline, instance: InstanceName): void {
  for (const [key, labels] of Object.entries(TRACKED) as Array<[TrackedName, (typeof TRACKED)[TrackedName]]>) {
    if (labels.instance === instance) pipeline.trackers[key].reset();
  }
}

function killFault(name: FaultName, app: InstanceName): Fault {
  return {
    name,
    description: `SIGKILL ${app}, restart it with the same environment and state`,
    async inject(pipeline) {
      if (app === 'generator') await pipeline.killGenerator();
      else await pipeline.apps[app].kill();
      resetTrackersOf(pipeline, app);
    },
    async restore(pipeline) {
      if (app === 'generator') await pipeline.startGenerator(APP_START_TIMEOUT_MS);
      else await pipeline.apps[app].start(APP_START_TIMEOUT_MS);
    },
  };
}

/**
 * The active one of the two mongo-writers (the single active consumer) is killed (SIGKILL) or
 * stopped (SIGTERM: it writes the batches in hand and hands the rest back), while the records
 * come in large messages; the standby takes over. It is started again afterwards as the standby.
 */
function mongoWriterFault(name: FaultName, how: 'kill' | 'stop'): Fault {
  let target: InstanceName = 'mongo-writer';
  return {
    name,
    description:
      how === 'kill'
        ? 'SIGKILL the active mongo-writer; the standby takes over; restart it as the standby'
        : 'SIGTERM the active mongo-writer (a hand-over, as in a rollout); restart it as the standby',
    async inject(pipeline) {
      target = await pipeline.activeMongoWriter();
      const app = pipeline.apps[target];
      if (how === 'kill') await app.kill();
      else {
        const code = await app.stop(APP_START_TIMEOUT_MS);
        if (code !== 0) throw new Error(`${target} exited with ${String(code)} on SIGTERM`);
      }
      resetTrackersOf(pipeline, target);
    },
    async restore(pipeline) {
      await pipeline.apps[target].start(APP_START_TIMEOUT_MS);
    },
  };
}

/** The rules are changed for a while; records generated meanwhile may take either route. */
function ruleWindow(pipeline: Pipeline, cleanup: Cleanup): { open(): void; close(): Promise<void> } {
  const window = { from: Date.now() - 10_000, to: undefined as number | undefined };
  const revert = async (): Promise<void> => {
    await pipeline.putRules(pipeline.defaultRules());
    window.to = Date.now();
  };
  return {
    open() {
      window.from = Date.now() - 10_000;
      pipeline.routeWindows.push(window);
      cleanup.add('rules', revert);
    },
    async close() {
      await revert();
      cleanup.done('rules');
    },
  };
}

export function buildFault(name: FaultName, pipeline: Pipeline, cleanup: Cleanup): Fault {
  const { longOutageS } = pipeline.options;
  switch (name) {
    case 'rabbitmq':
      return serviceFault(
        name,
        'rabbitmq',
        'rabbitmqctl stop_app; start_app + await_startup',
        rabbitmqStop,
        rabbitmqStart,
        cleanup,
      );
    case 'postgres':
      return serviceFault(
        name,
        'postgres',
        'pg_ctlcluster 15 main stop -m fast; start',
        postgresStop,
        postgresStart,
        cleanup,
      );
    case 'postgres-long':
      return serviceFault(
        name,
        'postgres',
        `PostgreSQL stopped for ${longOutageS} s, longer than the delivery acknowledgement timeout`,
        postgresStop,
        postgresStart,
        cleanup,
        longOutageS,
      );
    case 'ferretdb':
      return serviceFault(
        name,
        'ferretdb',
        "scripts/infra.sh stop ferretdb; start ferretdb (both mongo-writers' breakers open)",
        ferretdbStop,
        ferretdbStart,
        cleanup,
      );
    case 'ferretdb-hang':
      return serviceFault(
        name,
        'ferretdb-hang',
        `FerretDB frozen (SIGSTOP) for ${longOutageS} s: writes hang past the delivery acknowledgement timeout`,
        () => ferretdbSignal('STOP'),
        () => ferretdbSignal('CONT'),
        cleanup,
        longOutageS,
      );
    case 'kill-generator':
      return killFault(name, 'generator');
    case 'kill-filter':
      return killFault(name, 'filter');
    case 'kill-db-writer':
      return killFault(name, 'db-writer');
    case 'kill-mongo-writer':
    case 'kill-mongo-writer-again':
      return mongoWriterFault(name, 'kill');
    case 'handover-mongo-writer':
    case 'handover-mongo-writer-again':
      return mongoWriterFault(name, 'stop');
    case 'filter-dir-immutable': {
      const dir = pipeline.outputDir;
      const restore = (): Promise<void> => clearImmutable(dir);
      return {
        name,
        description: 'chattr +i on FILTER_OUTPUT_DIR and every entry in it; chattr -R -i',
        async inject() {
          cleanup.add('immutable', restore);
          await makeImmutable(dir);
        },
        async restore() {
          await restore();
          cleanup.done('immutable');
        },
      };
    }
    case 'both-route-rabbitmq': {
      const rules = ruleWindow(pipeline, cleanup);
      return {
        name,
        description:
          'every record routed to both sinks (PUT /rules), then RabbitMQ stopped: the file leg succeeds, the queue leg fails fast, the sender resends',
        async inject() {
          rules.open();
          await pipeline.putRules({ name: 'chaos-both', rules: [], default: 'both' });
          await sleep(2000);
          cleanup.add('rabbitmq', rabbitmqStart);
          await rabbitmqStop();
        },
        async restore() {
          await rabbitmqStart();
          cleanup.done('rabbitmq');
          await waitUntil(
            async () => (await pipeline.apps.filter.get('/health/ready')).status === 200,
            60_000,
            'the filter ready',
            { signal: runSignal() },
          );
          await sleep(3000);
          await rules.close();
        },
      };
    }
    case 'rule-change-partial': {
      const dir = pipeline.outputDir;
      const rules = ruleWindow(pipeline, cleanup);
      return {
        name,
        description:
          'FILTER_OUTPUT_DIR immutable until a hand-off failed part-way (queue leg confirmed, file leg not), then every record routed to the queue (PUT /rules); directory writable again; rules back',
        async inject() {
          rules.open();
          const failedBefore = pipeline.trackers.handoffFailed.total;
          cleanup.add('immutable', () => clearImmutable(dir));
          await makeImmutable(dir);
          await waitUntil(
            () => pipeline.trackers.handoffFailed.total > failedBefore,
            30_000,
            'a hand-off to fail part-way',
            { signal: runSignal() },
          );
          await pipeline.putRules({ name: 'chaos-all-to-queue', rules: [], default: 'queue' });
        },
        async restore() {
          await clearImmutable(dir);
          cleanup.done('immutable');
          await sleep(5000);
          await rules.close();
        },
      };
    }
  }
}
