/**
 * Connection settings: the same environment variables and defaults as the apps (README,
 * Configuration), each overridable by a flag. An empty variable counts as unset, as in the apps.
 */
export const DEFAULTS = {
  rabbitmqUrl: 'amqp://guest:guest@127.0.0.1:5672',
  databaseUrl: 'postgres://postgres:postgres@127.0.0.1:5432/dataflow',
  mongodbUrl: 'mongodb://127.0.0.1:27017/dataflow',
  fileDir: './data/filtered',
  filterUrl: 'http://127.0.0.1:3002',
} as const;

export interface ConnectionFlags {
  readonly rabbitmqUrl?: string;
  readonly databaseUrl?: string;
  readonly mongodbUrl?: string;
  readonly fileDir?: string;
  readonly filterUrl?: string;
  readonly token?: string;
}

export interface Settings {
  readonly rabbitmqUrl: string;
  readonly databaseUrl: string;
  readonly mongodbUrl: string;
  readonly fileDir: string;
  readonly filterUrl: string;
  readonly token: string | undefined;
}

function fromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function resolveSettings(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Settings {
  return {
    rabbitmqUrl: flags.rabbitmqUrl ?? fromEnv(env, 'RABBITMQ_URL') ?? DEFAULTS.rabbitmqUrl,
    databaseUrl: flags.databaseUrl ?? fromEnv(env, 'DATABASE_URL') ?? DEFAULTS.databaseUrl,
    mongodbUrl: flags.mongodbUrl ?? fromEnv(env, 'MONGODB_URL') ?? DEFAULTS.mongodbUrl,
    fileDir: flags.fileDir ?? fromEnv(env, 'FILTER_OUTPUT_DIR') ?? DEFAULTS.fileDir,
    filterUrl: flags.filterUrl ?? fromEnv(env, 'FILTER_URL') ?? DEFAULTS.filterUrl,
    token: flags.token ?? fromEnv(env, 'FILTER_ADMIN_TOKEN'),
  };
}
