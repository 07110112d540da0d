// TypeScript is type-checked by `npm run build` (tsc --noEmit); jest only strips types with swc.
// @middy/core 5+ is ESM-only, so it is transformed to CommonJS along with our sources.
// One project per test layer, each with its own job (and its own scripts: npm run test:unit, ...):
// unit tests need neither Java nor DynamoDB Local and run under a short timeout; the others start
// DynamoDB Local once per run.
const { existsSync } = require('node:fs');

// Browser end-to-end tests (test/e2e) drive Debian's Chromium through playwright-core. In CI they
// always run, and a missing browser fails them. On a developer machine without Chromium they are
// left out, loudly, rather than failing every local run.
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
const skipBrowserTests = !inCi && !existsSync(chromiumPath);
if (skipBrowserTests) {
  const rule = '!'.repeat(78);
  process.stderr.write(
    [
      '',
      rule,
      '!!  BROWSER END-TO-END TESTS (test/e2e) WERE NOT RUN',
      `!!  Chromium was not found at ${chromiumPath}${process.env.CHROMIUM_PATH ? ' (CHROMIUM_PATH)' : ''}.`,
      '!!  Install it:   sudo apt-get install chromium',
      '!!  or point CHROMIUM_PATH at a Chromium binary. (npx playwright install does not work here.)',
      '!!  In CI (CI=true) these tests always run and fail without Chromium.',
      rule,
      '',
      '',
    ].join('\n'),
  );
}

const common = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(t|j|mj)sx?$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@middy)/)'],
};
const withDynamoDbLocal = {
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};

const projects = [
  {
    ...common,
    displayName: 'unit',
    roots: ['<rootDir>/test/unit'],
    testMatch: ['**/*.test.ts'],
    setupFilesAfterEnv: ['<rootDir>/test/support/timeouts/unit.ts'],
  },
  {
    ...common,
    ...withDynamoDbLocal,
    displayName: 'integration',
    roots: ['<rootDir>/test/integration'],
    testMatch: ['**/*.test.ts'],
    setupFilesAfterEnv: ['<rootDir>/test/support/timeouts/integration.ts'],
  },
  // cdk synth with esbuild bundling of every function: slow on two cores, never flaky.
  {
    ...common,
    displayName: 'infra',
    roots: ['<rootDir>/test/infra'],
    testMatch: ['**/*.test.ts'],
    setupFilesAfterEnv: ['<rootDir>/test/support/timeouts/infra.ts'],
  },
  ...(skipBrowserTests
    ? []
    : [
        {
          ...common,
          ...withDynamoDbLocal,
          displayName: 'e2e',
          roots: ['<rootDir>/test/e2e'],
          testMatch: ['**/*.test.ts'],
          setupFilesAfterEnv: ['<rootDir>/test/support/timeouts/e2e.ts'],
        },
      ]),
];

/** @type {import('jest').Config} */
module.exports = {
  projects,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  maxWorkers: 2,
};
