import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appNodeArgs } from './heap-policy';

/**
 * The semi-space cap can only be given on the command line, so the shell launchers write it out;
 * this keeps them on the same value as the TypeScript launchers (scripts/kit/app-process.ts).
 */
describe('the apps memory policy', () => {
  const args = appNodeArgs().join(' ');

  it.each(['Dockerfile', 'scripts/run-system.sh'])(
    '%s starts the apps with the node arguments of the policy',
    (file) => {
      const text = readFileSync(join(process.cwd(), file), 'utf8');
      const launches = text
        .split('\n')
        .filter((line) => /\bnode\b.*dist\/apps\//.test(line) && !line.trim().startsWith('#'));
      expect(launches.length).toBeGreaterThan(0);
      for (const line of launches) expect(line).toContain(`node ${args} `);
    },
  );
});
