'use strict';
// Container health probe: `node healthcheck.cjs [path]` exits 0 when GET http://127.0.0.1:<port><path>
// answers 2xx, 1 otherwise. The slim Node image has no curl or wget, and Node has fetch built in.
//
// The port is read from the app's own port variable (GENERATOR_PORT, FILTER_PORT, ...) so a port
// overridden at run time is still probed correctly; the contract's default is the fallback.
const DEFAULT_PORTS = {
  generator: ['GENERATOR_PORT', 3001],
  filter: ['FILTER_PORT', 3002],
  'db-writer': ['DB_WRITER_PORT', 3003],
  'mongo-writer': ['MONGO_WRITER_PORT', 3004],
};

const app = process.env.APP ?? '';
const entry = DEFAULT_PORTS[app];
if (!entry) {
  console.error(`healthcheck: APP must be one of ${Object.keys(DEFAULT_PORTS).join(', ')}, got "${app}"`);
  process.exit(1);
}
const [portVariable, defaultPort] = entry;
const port = process.env[portVariable] || defaultPort;
const path = process.argv[2] ?? '/health/live';

fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2500) })
  .then((response) => process.exit(response.ok ? 0 : 1))
  .catch(() => process.exit(1));
