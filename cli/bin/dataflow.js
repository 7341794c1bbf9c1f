#!/usr/bin/env node
'use strict';
// Launcher for `npx dataflow`: runs the TypeScript CLI in place with ts-node (transpile only) and
// the repository's path aliases, whatever the current directory.
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const project = path.join(root, 'tsconfig.json');

require('ts-node').register({ project, transpileOnly: true });
const tsconfigPaths = require('tsconfig-paths');
const loaded = tsconfigPaths.loadConfig(root);
if (loaded.resultType !== 'success') {
  process.stderr.write(`dataflow: cannot read ${project}: ${loaded.message}\n`);
  process.exit(2);
}
tsconfigPaths.register({ baseUrl: loaded.absoluteBaseUrl, paths: loaded.paths });

require('../main.ts');
