// TypeScript is type-checked by `npm run build` (tsc --noEmit); jest only strips types with swc.
// @middy/core 5+ is ESM-only, so it is transformed to CommonJS along with our sources.
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

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', ...(skipBrowserTests ? ['/test/e2e/'] : [])],
  transform: {
    '^.+\\.(t|j|mj)sx?$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@middy)/)'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  testTimeout: 60000,
  maxWorkers: 2,
};
