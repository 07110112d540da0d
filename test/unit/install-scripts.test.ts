/**
 * `npm ci` prints no avoidable warning: every dependency with an install script is reviewed in
 * package.json's allowScripts. The three present (esbuild, @swc/core, @parcel/watcher) are denied:
 * each only fetches or builds a native binary that npm already installs as an optional
 * platform package.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

describe('install scripts', () => {
  it('every dependency with an install script is covered by allowScripts', () => {
    const ls = spawnSync('npm', ['install-scripts', 'ls'], {
      cwd: join(__dirname, '..', '..'),
      encoding: 'utf8',
    });
    expect(ls.error).toBeUndefined();
    expect(`${ls.stdout}${ls.stderr}`.trim()).toBe('No packages with unreviewed install scripts.');
  });
});
