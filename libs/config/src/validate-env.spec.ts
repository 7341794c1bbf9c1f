import { z } from 'zod';
import { ConfigError } from './config-error';
import { commonEnv, decimal, flag, integer, optionalSecret, port, rabbitEnv, url, urlList } from './env-schema';
import { validateEnv } from './validate-env';

const schema = z.object({
  ...commonEnv,
  ...rabbitEnv,
  APP_PORT: port(3002),
  APP_THRESHOLD: integer(90, -1, 100),
  APP_RATE: decimal(5, 0.001, 1000),
  APP_FSYNC: flag(true),
  APP_VERBOSE: flag(false),
  APP_WS_URL: url('ws://127.0.0.1:3002/ingest', ['ws:', 'wss:']),
  INGEST_TOKEN: optionalSecret(),
  APP_NAME: z
    .string()
    .regex(/^[a-z]+$/, 'must be lowercase letters')
    .default('app'),
});

const validate = validateEnv(schema);

function configError(env: Record<string, unknown>): ConfigError {
  try {
    validate(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('validateEnv: defaults and coercion', () => {
  it('applies every default to an empty environment', () => {
    expect(validate({})).toEqual({
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_SECONDS: 20,
      RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672',
      RECORD_PARTITIONS: 1,
      APP_PORT: 3002,
      APP_THRESHOLD: 90,
      APP_RATE: 5,
      APP_FSYNC: true,
      APP_VERBOSE: false,
      APP_WS_URL: 'ws://127.0.0.1:3002/ingest',
      INGEST_TOKEN: undefined,
      APP_NAME: 'app',
    });
  });

  it('coerces numeric strings to numbers', () => {
    const config = validate({
      APP_PORT: '8080',
      APP_THRESHOLD: '-1',
      APP_RATE: '0.25',
      SHUTDOWN_TIMEOUT_SECONDS: '600',
    });
    expect(config.APP_PORT).toBe(8080);
    expect(config.APP_THRESHOLD).toBe(-1);
    expect(config.APP_RATE).toBe(0.25);
    expect(config.SHUTDOWN_TIMEOUT_SECONDS).toBe(600);
  });

  it('accepts the range boundaries', () => {
    expect(validate({ APP_PORT: '1' }).APP_PORT).toBe(1);
    expect(validate({ APP_PORT: '65535' }).APP_PORT).toBe(65535);
    expect(validate({ APP_THRESHOLD: '100' }).APP_THRESHOLD).toBe(100);
    expect(validate({ APP_RATE: '0.001' }).APP_RATE).toBe(0.001);
  });

  it('returns only the schema keys; unknown variables are ignored, not refused', () => {
    const config = validate({ PATH: '/usr/bin', HOME: '/root', APP_PORT: '3000' }) as Record<string, unknown>;
    expect(config.APP_PORT).toBe(3000);
    expect('PATH' in config).toBe(false);
    expect('HOME' in config).toBe(false);
  });

  it('accepts a URL with any of the allowed schemes', () => {
    expect(validate({ RABBITMQ_URL: 'amqps://u:p@broker:5671/vh' }).RABBITMQ_URL).toBe('amqps://u:p@broker:5671/vh');
    expect(validate({ APP_WS_URL: 'wss://filter.example/ingest' }).APP_WS_URL).toBe('wss://filter.example/ingest');
  });

  it('accepts several RabbitMQ nodes separated by commas, each a URL of an allowed scheme', () => {
    const nodes = 'amqp://u:p@rabbit-1:5672, amqp://u:p@rabbit-2:5672,amqps://u:p@rabbit-3:5671';
    expect(urlList(validate({ RABBITMQ_URL: nodes }).RABBITMQ_URL)).toEqual([
      'amqp://u:p@rabbit-1:5672',
      'amqp://u:p@rabbit-2:5672',
      'amqps://u:p@rabbit-3:5671',
    ]);
    expect(configError({ RABBITMQ_URL: 'amqp://u:p@rabbit-1:5672,http://rabbit-2' }).message).toMatch(
      /^RABBITMQ_URL: /,
    );
    expect(configError({ RABBITMQ_URL: ' , ' }).message).toMatch(/^RABBITMQ_URL: /);
  });

  it('treats an empty optional secret as unset', () => {
    expect(validate({ INGEST_TOKEN: '' }).INGEST_TOKEN).toBeUndefined();
    expect(validate({ INGEST_TOKEN: 's3cret' }).INGEST_TOKEN).toBe('s3cret');
  });
});

describe('validateEnv: flags', () => {
  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['0', false],
    ['no', false],
  ])('%s -> %s', (value, expected) => {
    expect(validate({ APP_FSYNC: value, APP_VERBOSE: value })).toMatchObject({
      APP_FSYNC: expected,
      APP_VERBOSE: expected,
    });
  });

  it('uses the default when unset', () => {
    expect(validate({})).toMatchObject({ APP_FSYNC: true, APP_VERBOSE: false });
  });

  it('treats an empty value as unset (the default applies)', () => {
    expect(validate({ APP_FSYNC: '', APP_VERBOSE: ' ' })).toMatchObject({ APP_FSYNC: true, APP_VERBOSE: false });
  });

  it.each(['maybe', 'on', '2'])('refuses %j naming the variable', (value) => {
    const error = configError({ APP_VERBOSE: value });
    expect(error.message.startsWith('APP_VERBOSE: ')).toBe(true);
    expect(error.message).toContain(`(got ${JSON.stringify(value)})`);
  });
});

describe('validateEnv: bad values', () => {
  it('throws a ConfigError (an Error named ConfigError) naming the variable and the value', () => {
    const error = configError({ APP_THRESHOLD: '101' });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ConfigError');
    expect(error.message).toMatch(/^APP_THRESHOLD: .+ \(got "101"\)$/);
  });

  it.each<[string, string]>([
    ['APP_PORT', '0'],
    ['APP_PORT', '65536'],
    ['APP_PORT', 'http'],
    ['APP_PORT', '80.5'],
    ['APP_THRESHOLD', '-2'],
    ['APP_THRESHOLD', 'ninety'],
    ['APP_RATE', '0'],
    ['APP_RATE', '1001'],
    ['SHUTDOWN_TIMEOUT_SECONDS', '0'],
    ['LOG_LEVEL', 'verbose'],
    ['NODE_ENV', 'staging'],
    ['APP_NAME', 'App1'],
  ])('%s=%j is refused with one line naming it', (variable, value) => {
    const error = configError({ [variable]: value });
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
    expect(error.message).toContain(`(got ${JSON.stringify(value)})`);
    expect(error.message).not.toContain('\n');
  });

  it('names the first bad variable when several are bad', () => {
    const error = configError({ APP_PORT: 'x', APP_RATE: 'y' });
    expect(error.message).toMatch(/^(APP_PORT|APP_RATE): /);
  });

  it('cuts a very long value in the message', () => {
    const error = configError({ APP_NAME: 'X'.repeat(10_000) });
    expect(error.message.length).toBeLessThan(300);
  });

  it('says "unset" for a required variable that is missing', () => {
    const required = validateEnv(z.object({ REQUIRED_DIR: z.string().min(1) }));
    expect(() => required({})).toThrow(ConfigError);
    expect(() => required({})).toThrow(/^REQUIRED_DIR: .+ \(got unset\)$/);
  });

  it.each(['', '   '])('does not silently turn an empty integer variable (%j) into 0', (value) => {
    // `FILTER_THRESHOLD=` in a .env file or `${VAR:-}` in compose: the operator expects the default
    // or a clear refusal, never a different routing rule.
    let outcome: unknown;
    try {
      outcome = validate({ APP_THRESHOLD: value }).APP_THRESHOLD;
    } catch (error) {
      outcome = error instanceof ConfigError ? 'ConfigError' : error;
    }
    expect([90, 'ConfigError']).toContain(outcome);
  });
});

describe('validateEnv: secrets are never printed', () => {
  it.each<[string, string]>([
    ['RABBITMQ_URL', 'http://admin:hunter2@broker:5672'],
    ['RABBITMQ_URL', 'not a url with password hunter2'],
    ['APP_WS_URL', 'http://user:hunter2@filter/ingest'],
  ])('%s: names the variable, hides the value', (variable, value) => {
    const error = configError({ [variable]: value });
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
    expect(error.message).toContain('(got hidden)');
    expect(error.message).not.toContain('hunter2');
  });

  it('hides TOKEN, PASSWORD and SECRET variables too', () => {
    const secrets = validateEnv(
      z.object({
        API_TOKEN: z.string().min(20),
        DB_PASSWORD: z.string().min(20),
        CLIENT_SECRET: z.string().min(20),
      }),
    );
    for (const variable of ['API_TOKEN', 'DB_PASSWORD', 'CLIENT_SECRET']) {
      const env = {
        API_TOKEN: 'x'.repeat(20),
        DB_PASSWORD: 'x'.repeat(20),
        CLIENT_SECRET: 'x'.repeat(20),
        [variable]: 'hunter2',
      };
      expect(() => secrets(env)).toThrow(`${variable}: `);
      expect(() => secrets(env)).toThrow('(got hidden)');
      expect(() => secrets(env)).not.toThrow('hunter2');
    }
  });

  it('does not hide an ordinary value', () => {
    expect(configError({ APP_PORT: 'abc' }).message).toContain('(got "abc")');
  });
});
