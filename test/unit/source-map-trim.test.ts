import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import type { SourceMapPayload } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { esbuildBuildOptions, finishBundle } from '../../lib/handler-bundling';
import { PROJECT_ROOT } from '../../lib/project-paths';
import { isOwnSource, trimSourceMap } from '../../lib/source-map-trim';
import type { RawSourceMap } from '../../lib/source-map-trim';

let workDir: string;
let code: string;
let original: RawSourceMap;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'source-map-trim-'));
  const outfile = join(workDir, 'outcome.mjs');
  // The outcome handler: our own code and Powertools from node_modules, built as deployed.
  await build({
    ...esbuildBuildOptions(),
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [join(PROJECT_ROOT, 'lambdas', 'outcome.ts')],
    outfile,
    logLevel: 'silent',
  });
  code = await readFile(outfile, 'utf8');
  original = JSON.parse(await readFile(`${outfile}.map`, 'utf8')) as RawSourceMap;
}, 60_000);

afterAll(async () => {
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
});

const asPayload = (map: RawSourceMap): SourceMapPayload => ({
  file: 'outcome.mjs',
  version: map.version,
  sources: [...map.sources],
  sourcesContent: [],
  names: [...map.names],
  mappings: map.mappings,
  sourceRoot: map.sourceRoot ?? '',
});

describe('trimSourceMap', () => {
  it('keeps only the repository sources', () => {
    const trimmed = trimSourceMap(original, isOwnSource);
    expect(original.sources.some((s) => s.includes('node_modules/'))).toBe(true);
    expect(trimmed.sources.length).toBeGreaterThan(0);
    expect(trimmed.sources.every(isOwnSource)).toBe(true);
    expect(trimmed.sources).toEqual(original.sources.filter(isOwnSource));
    expect(trimmed.mappings.length).toBeLessThan(original.mappings.length);
  });

  it('maps every generated position of our own code exactly as the full map does', () => {
    const full = new SourceMap(asPayload(original));
    const trimmed = new SourceMap(asPayload(trimSourceMap(original, isOwnSource)));
    let compared = 0;
    code.split('\n').forEach((line, lineOffset) => {
      for (let column = 0; column < line.length; column++) {
        const entry = full.findEntry(lineOffset, column);
        if (!('originalSource' in entry)) continue;
        if (entry.generatedLine !== lineOffset || entry.generatedColumn !== column) continue;
        if (isOwnSource(entry.originalSource)) {
          expect(trimmed.findEntry(lineOffset, column)).toEqual(entry);
          compared++;
        } else {
          const kept = trimmed.findEntry(lineOffset, column);
          if ('originalSource' in kept) expect(isOwnSource(kept.originalSource)).toBe(true);
        }
      }
    });
    expect(compared).toBeGreaterThan(100);
  });

  it('leaves a map without dependencies unchanged', () => {
    const own = trimSourceMap(original, isOwnSource);
    expect(trimSourceMap(own, isOwnSource)).toEqual(own);
  });

  it('is what finishBundle writes next to a bundle', async () => {
    const outfile = join(workDir, 'outcome.mjs');
    finishBundle(outfile);
    const written = JSON.parse(await readFile(`${outfile}.map`, 'utf8')) as RawSourceMap;
    expect(written).toEqual(trimSourceMap(original, isOwnSource));
  });
});

describe('isOwnSource', () => {
  it.each([
    ['../../lambdas/outcome.ts', true],
    ['lib/handler-bundling.ts', true],
    ['../../node_modules/axios/lib/axios.js', false],
    ['node_modules/@aws-sdk/core/dist-es/index.js', false],
    ['..\\node_modules\\axios\\index.js', false],
  ])('%s: %s', (source, own) => {
    expect(isOwnSource(source)).toBe(own);
  });
});
