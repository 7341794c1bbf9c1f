import type { AppName } from './apps';
import type { FaultName } from './options';
import { Pipeline, TRACKED, TrackedName } from './pipeline';
import {
  clearImmutable,
  ferretdbStart,
  ferretdbStop,
  makeImmutable,
  postgresStart,
  postgresStop,
  rabbitmqStart,
  rabbitmqStop,
} from './services';

export interface Fault {
  readonly name: FaultName;
  readonly description: string;
  /** Causes the fault; registers its restore with the cleanup before it acts. */
  inject(pipeline: Pipeline): Promise<void>;
  /** Ends the fault and waits until the broken part is back (service answering, app live). */
  restore(pipeline: Pipeline): Promise<void>;
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
        errors.push(`${key}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return errors;
  }
}

function serviceFault(
  name: FaultName,
  description: string,
  stop: () => Promise<void>,
  start: () => Promise<void>,
  cleanup: Cleanup,
): Fault {
  return {
    name,
    description,
    async inject() {
      cleanup.add(name, start);
      await stop();
    },
    async restore() {
      await start();
      cleanup.done(name);
    },
  };
}

function resetTrackersOf(pipeline: Pipeline, app: AppName): void {
  for (const [key, labels] of Object.entries(TRACKED) as Array<[TrackedName, (typeof TRACKED)[TrackedName]]>) {
    if (labels.app === app) pipeline.trackers[key].reset();
  }
}

function killFault(name: FaultName, app: AppName): Fault {
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

export function buildFault(name: FaultName, pipeline: Pipeline, cleanup: Cleanup): Fault {
  switch (name) {
    case 'rabbitmq':
      return serviceFault(
        name,
        'rabbitmqctl stop_app; start_app + await_startup',
        rabbitmqStop,
        rabbitmqStart,
        cleanup,
      );
    case 'postgres':
      return serviceFault(name, 'pg_ctlcluster 15 main stop -m fast; start', postgresStop, postgresStart, cleanup);
    case 'ferretdb':
      return serviceFault(name, 'scripts/infra.sh stop ferretdb; start ferretdb', ferretdbStop, ferretdbStart, cleanup);
    case 'kill-generator':
      return killFault(name, 'generator');
    case 'kill-filter':
      return killFault(name, 'filter');
    case 'kill-db-writer':
      return killFault(name, 'db-writer');
    case 'kill-mongo-writer':
      return killFault(name, 'mongo-writer');
    case 'filter-dir-immutable': {
      const dir = pipeline.outputDir;
      const restore = (): Promise<void> => clearImmutable(dir);
      return {
        name,
        description: 'chattr +i on FILTER_OUTPUT_DIR and every entry in it; chattr -R -i',
        async inject() {
          cleanup.add(name, restore);
          await makeImmutable(dir);
        },
        async restore() {
          await restore();
          cleanup.done(name);
        },
      };
    }
  }
}
