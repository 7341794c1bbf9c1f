// Integration specs purge the queues, stop and restart RabbitMQ, PostgreSQL and FerretDB, and
// count every consumer and unacknowledged message: they need the services to themselves. A
// pipeline left running (`npm run system`, a chaos or bench run, apps orphaned by an interrupted
// test run) would take deliveries, re-declare bindings the specs removed and fail them in ways that
// look like bugs. This global set-up refuses to start the run instead, naming what to stop.
const { execFileSync } = require('node:child_process');

function lines(command, args) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean);
  } catch {
    return []; // nothing matched (pgrep exits 1), or the tool is missing: the specs report their own errors
  }
}

module.exports = async function servicesIdle() {
  const apps = lines('pgrep', ['-af', 'dist/apps/[a-z-]+/main\\.js']);
  const connections = lines('rabbitmqctl', ['-q', 'list_connections', 'user', 'peer_host', 'peer_port']).filter(
    (line) => !line.startsWith('user\t'),
  );
  if (apps.length === 0 && connections.length === 0) return;
  throw new Error(
    [
      'the integration tests need RabbitMQ, PostgreSQL and FerretDB to themselves (they purge queues and restart services), but they are in use:',
      ...apps.map((line) => `  app process: ${line}`),
      ...connections.map((line) => `  RabbitMQ connection: ${line.replace(/\t/g, ' ')}`),
      'stop these first (a running `npm run system`, chaos or bench run, or apps left by an interrupted test run).',
    ].join('\n'),
  );
};
