// @ts-check
/**
 * Three tiers, one runner: `*.spec.ts` unit specs beside the code (pure logic, no I/O);
 * `test/module/**` specs that boot the apps' Nest modules in the test process (`@nestjs/testing`)
 * against the real services and check their wiring; and `test/integration/**` specs that run the
 * built apps as processes against the real RabbitMQ, PostgreSQL and FerretDB started by
 * `scripts/infra.sh up`. Nest 12 ships as ES modules; Node.js 24 can `require()` them and jest
 * does the same under --experimental-vm-modules (see package.json scripts).
 */
const { pathsToModuleNameMapper } = require('ts-jest');
const ts = require('typescript');

const { config: tsconfig } = ts.readConfigFile('./tsconfig.json', ts.sys.readFile);
const paths = tsconfig.compilerOptions.paths;

// Specs run as ES modules (Nest 12 is ESM-only and jest can only `require()` ESM on Node >= 24.9);
// ts-jest only transpiles here, `npm run typecheck` checks types for the whole tree.
/** @type {import('ts-jest').JestConfigWithTsJest['transform']} */
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: './tsconfig.spec.json', useESM: true }],
};
const moduleNameMapper = pathsToModuleNameMapper(paths, { prefix: '<rootDir>/' });

/** @type {import('jest').Config} */
module.exports = {
  moduleFileExtensions: ['ts', 'js', 'json'],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.cjs'],
  // Integration specs start real processes and wait for real brokers; jest reads this only globally.
  testTimeout: 180_000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      rootDir: '.',
      roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/cli'],
      testMatch: ['**/*.spec.ts'],
      transform,
      moduleNameMapper,
      extensionsToTreatAsEsm: ['.ts'],
    },
    {
      displayName: 'module',
      testEnvironment: 'node',
      rootDir: '.',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.module-spec.ts'],
      globalSetup: '<rootDir>/test/support/services-idle.cjs',
      transform,
      moduleNameMapper,
      extensionsToTreatAsEsm: ['.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      rootDir: '.',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.int-spec.ts'],
      globalSetup: '<rootDir>/test/support/services-idle.cjs',
      transform,
      moduleNameMapper,
      extensionsToTreatAsEsm: ['.ts'],
    },
  ],
};
