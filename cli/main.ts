import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { dlqList, dlqPurge, dlqReplay, dlqShow } from './dlq/commands';
import { CliError, describeError, EXIT_ERROR, EXIT_OK } from './lib/errors';
import { note } from './lib/output';
import { resolveSettings } from './lib/settings';
import { tail } from './tail/command';
import { parseRoutes } from './tail/tail-event';
import { parseInstant, parseSeq, parseSinks, verify } from './verify/command';
import type { Window } from './verify/source-check';

/** dataflow: the operator's command line for the pipeline (docs/cli.md). */

function count(name: string, min: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min) {
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    }
    return Number(value);
  };
}

interface CommonFlags {
  json?: boolean;
  rabbitmqUrl?: string;
  databaseUrl?: string;
  mongodbUrl?: string;
}

function rabbitOption(): Option {
  return new Option(
    '--rabbitmq-url <url>',
    'RabbitMQ URL (env RABBITMQ_URL, default amqp://guest:guest@127.0.0.1:5672)',
  );
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('dataflow')
    .description('Operate the dataflow pipeline: dead letters, reconciliation of the sinks, live routing.')
    .version(readVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'dataflow: ')) });

  const dlq = program.command('dlq').description('inspect, replay and purge the dead-letter queues');

  dlq
    .command('list')
    .description('message count of each DLQ and a one-line summary per message (removes nothing)')
    .option('--queue <queue>', 'postgres, mongo or all', 'all')
    .option('--limit <n>', 'messages summarised per queue', count('--limit', 0), 20)
    .option('--json', 'JSON output')
    .addOption(rabbitOption())
    .action(async (flags: CommonFlags & { queue: string; limit: number }) => {
      const settings = resolveSettings(flags);
      setExit(
        await dlqList(flags.queue, flags.limit, { rabbitmqUrl: settings.rabbitmqUrl, json: flags.json === true }),
      );
    });

  dlq
    .command('show')
    .description('full bodies and headers of DLQ messages (removes nothing)')
    .argument('<queue>', 'postgres or mongo')
    .option('--limit <n>', 'messages to show', count('--limit', 1), 10)
    .option('--offset <n>', 'messages to skip first', count('--offset', 0), 0)
    .option('--json', 'JSON output')
    .addOption(rabbitOption())
    .action(async (queue: string, flags: CommonFlags & { limit: number; offset: number }) => {
      const settings = resolveSettings(flags);
      setExit(
        await dlqShow(queue, flags.limit, flags.offset, {
          rabbitmqUrl: settings.rabbitmqUrl,
          json: flags.json === true,
        }),
      );
    });

  dlq
    .command('replay')
    .description('move DLQ messages back to the queue each was dead-lettered from (confirmed before removal)')
    .argument('<queue>', 'postgres, mongo or all')
    .option('--limit <n>', 'replay at most this many messages per queue', count('--limit', 1))
    .option('--dry-run', 'show what would be replayed; take nothing')
    .option('--json', 'JSON output')
    .addOption(rabbitOption())
    .action(async (queue: string, flags: CommonFlags & { limit?: number; dryRun?: boolean }) => {
      const settings = resolveSettings(flags);
      setExit(
        await dlqReplay(queue, flags.limit, flags.dryRun === true, {
          rabbitmqUrl: settings.rabbitmqUrl,
          json: flags.json === true,
        }),
      );
    });

  dlq
    .command('purge')
    .description('delete every message of a DLQ (needs --yes)')
    .argument('<queue>', 'postgres, mongo or all')
    .option('--yes', 'really delete')
    .option('--json', 'JSON output')
    .addOption(rabbitOption())
    .action(async (queue: string, flags: CommonFlags & { yes?: boolean }) => {
      const settings = resolveSettings(flags);
      setExit(
        await dlqPurge(queue, flags.yes === true, { rabbitmqUrl: settings.rabbitmqUrl, json: flags.json === true }),
      );
    });

  program
    .command('verify')
    .description('reconcile the file sink, PostgreSQL and MongoDB per source; exit 1 on any finding')
    .option('--source <source>', 'only this source')
    .option('--from-seq <seq>', 'lowest seq of the window')
    .option('--to-seq <seq>', 'highest seq of the window')
    .option('--since <time>', 'records with timestamp at or after (ISO 8601 or epoch ms)')
    .option('--until <time>', 'records with timestamp before (ISO 8601 or epoch ms)')
    .option('--file-dir <dir>', 'file sink directory (env FILTER_OUTPUT_DIR, default ./data/filtered)')
    .option('--sinks <list>', 'sinks to reconcile', 'file,postgres,mongo')
    .option('--json', 'JSON output')
    .option('--database-url <url>', 'PostgreSQL URL (env DATABASE_URL)')
    .option('--mongodb-url <url>', 'MongoDB URL (env MONGODB_URL)')
    .action(
      async (
        flags: CommonFlags & {
          source?: string;
          fromSeq?: string;
          toSeq?: string;
          since?: string;
          until?: string;
          fileDir?: string;
          sinks: string;
        },
      ) => {
        const settings = resolveSettings(flags);
        const window: Window = {
          ...(flags.fromSeq !== undefined ? { fromSeq: parseSeq(flags.fromSeq, '--from-seq') } : {}),
          ...(flags.toSeq !== undefined ? { toSeq: parseSeq(flags.toSeq, '--to-seq') } : {}),
          ...(flags.since !== undefined ? { since: parseInstant(flags.since, '--since') } : {}),
          ...(flags.until !== undefined ? { until: parseInstant(flags.until, '--until') } : {}),
        };
        setExit(
          await verify({
            ...(flags.source !== undefined ? { source: flags.source } : {}),
            window,
            sinks: parseSinks(flags.sinks),
            fileDir: settings.fileDir,
            fileDirExplicit: flags.fileDir !== undefined,
            databaseUrl: settings.databaseUrl,
            mongodbUrl: settings.mongodbUrl,
            json: flags.json === true,
          }),
        );
      },
    );

  program
    .command('tail')
    .description("print the records passing the filter with their routes (the filter's GET /tail stream)")
    .option('--filter-url <url>', 'filter base URL (env FILTER_URL, default http://127.0.0.1:3002)')
    .option('--token <token>', 'admin token (env FILTER_ADMIN_TOKEN)')
    .option('--route <routes>', 'only these routes: queue, file, both, drop (comma-separated)')
    .option('--count <n>', 'exit after printing this many records', count('--count', 1))
    .option('--json', 'one JSON object per line')
    .action(async (flags: { filterUrl?: string; token?: string; route?: string; count?: number; json?: boolean }) => {
      const settings = resolveSettings(flags);
      let routes;
      try {
        routes = flags.route !== undefined ? parseRoutes(flags.route) : undefined;
      } catch (error) {
        throw new CliError(`--route: ${describeError(error)}`);
      }
      try {
        new URL(settings.filterUrl);
      } catch {
        throw new CliError(`--filter-url: not a URL: "${settings.filterUrl}"`);
      }
      setExit(
        await tail({
          filterUrl: settings.filterUrl,
          token: settings.token,
          routes,
          json: flags.json === true,
          count: flags.count,
        }),
      );
    });

  return program;
}

function readVersion(): string {
  try {
    // The package manifest two levels up; only its version is read.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../package.json') as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export async function run(argv: readonly string[]): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram((value) => (code = value));
  try {
    await program.parseAsync([...argv]);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; every other parse error was printed by commander already.
      return error.exitCode === 0 ? EXIT_OK : EXIT_ERROR;
    }
    if (error instanceof CliError) {
      note(`dataflow: ${error.message}`);
      return error.exitCode;
    }
    note(`dataflow: ${describeError(error)}`);
    if (process.env.DATAFLOW_DEBUG === '1' && error instanceof Error) note(error.stack ?? '');
    return EXIT_ERROR;
  }
}

void run(process.argv).then((code) => {
  process.exitCode = code;
  // Leftover handles of a driver must not keep a finished command alive.
  setTimeout(() => process.exit(code), 2000).unref();
});
