import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppName, AppProcess, sleep, waitFor } from '../support/app-process';
import { listeningAddresses } from '../support/listening';
import { entryPoint } from '../../scripts/kit/app-process';

/** Ports of this spec: 4321 to 4329. */
const PORT = { generator: 4321, filter: 4322, 'db-writer': 4323, 'mongo-writer': 4324 } as const;
const NOTHING_LISTENS = 4329;

const scratch = (): string => mkdtempSync(join(tmpdir(), 'dataflow-secure-'));

/** Starts an app, returns where it listens (from the kernel's socket table), stops it. */
async function listensOn(name: AppName, port: number, env: Record<string, string>): Promise<string[]> {
  const app = await new AppProcess(name, port, env).start();
  try {
    // Stopped only once its broker channel is set up: readiness reports the connection, and the
    // topology is declared just after it (a stop in the middle of that is another matter).
    if (name !== 'generator') {
      await waitFor(async () => (await app.get('/health/ready')).status === 200, 30_000, `${name} ready`);
      await sleep(1000);
    }
    return listeningAddresses(port);
  } finally {
    expect(await app.stop()).toBe(0);
  }
}

const generatorEnv = (): Record<string, string> => ({
  GENERATOR_STATE_DIR: scratch(),
  GENERATOR_ID: 'secure-defaults',
  GENERATOR_RATE: '0.001',
  // No filter here: the generator only has to start and listen.
  FILTER_WS_URL: `ws://127.0.0.1:${NOTHING_LISTENS}/ingest`,
});

describe('secure by default (CONTRACT.md §4): without the tokens an app listens on loopback only', () => {
  it.each<[AppName, () => Record<string, string>]>([
    ['generator', generatorEnv],
    ['filter', () => ({ FILTER_OUTPUT_DIR: scratch() })],
    ['db-writer', () => ({})],
    ['mongo-writer', () => ({})],
  ])('%s without tokens: 127.0.0.1 only', async (name, env) => {
    expect(await listensOn(name, PORT[name], env())).toEqual(['127.0.0.1']);
  });

  it('the filter with both tokens: all interfaces', async () => {
    const env = { FILTER_OUTPUT_DIR: scratch(), INGEST_TOKEN: 'i-token', FILTER_ADMIN_TOKEN: 'a-token' };
    expect(await listensOn('filter', PORT.filter, env)).toEqual(['0.0.0.0']);
  });

  it('the filter with only one of its tokens stays on loopback (the other endpoints would be open)', async () => {
    expect(await listensOn('filter', PORT.filter, { FILTER_OUTPUT_DIR: scratch(), INGEST_TOKEN: 'i' })).toEqual([
      '127.0.0.1',
    ]);
    expect(await listensOn('filter', PORT.filter, { FILTER_OUTPUT_DIR: scratch(), FILTER_ADMIN_TOKEN: 'a' })).toEqual([
      '127.0.0.1',
    ]);
  });

  it('the generator with INGEST_TOKEN: all interfaces; LISTEN_HOST overrides', async () => {
    expect(await listensOn('generator', PORT.generator, { ...generatorEnv(), INGEST_TOKEN: 't' })).toEqual(['0.0.0.0']);
    expect(
      await listensOn('generator', PORT.generator, { ...generatorEnv(), INGEST_TOKEN: 't', LISTEN_HOST: '127.0.0.1' }),
    ).toEqual(['127.0.0.1']);
  });

  it('a writer listens wider only when LISTEN_HOST says so', async () => {
    expect(await listensOn('db-writer', PORT['db-writer'], { LISTEN_HOST: '0.0.0.0' })).toEqual(['0.0.0.0']);
  });

  it('the filter refuses a non-loopback LISTEN_HOST without its tokens, with one line', () => {
    const result = spawnSync(process.execPath, [entryPoint('filter')], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        FILTER_PORT: String(PORT.filter),
        LISTEN_HOST: '0.0.0.0',
        INGEST_TOKEN: 'only-this-one',
        FILTER_ADMIN_TOKEN: '',
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      'filter: invalid configuration: LISTEN_HOST: a non-loopback address needs INGEST_TOKEN and FILTER_ADMIN_TOKEN ' +
        '(secure by default) (got "0.0.0.0")',
    );
    expect(listeningAddresses(PORT.filter)).toEqual([]);
  });
});
