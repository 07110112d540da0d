/**
 * Builds each Lambda entry with the esbuild options CDK deploys (lib/handler-bundling.ts, the one
 * place both read) into bench/out/, and measures what would be uploaded: raw and gzip size, and
 * which packages went in (from esbuild's metafile). The intuit-oauth reference is built the way
 * its users build it with NodejsFunction: the AWS SDK left to the runtime, no source map.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import type { BuildOptions, Metafile } from 'esbuild';
import { esbuildBuildOptions } from '../lib/handler-bundling';

/** The reference: CDK's default of an external AWS SDK, no aliases, no source map. */
export function referenceBuildOptions(): BuildOptions {
  return { ...esbuildBuildOptions(), alias: {}, sourcemap: false, external: ['@aws-sdk/*'] };
}

export interface BundleSpec {
  readonly name: string;
  /** Entry file relative to the repository root. */
  readonly entry: string;
  /** true for the intuit-oauth reference, which ours are compared against. */
  readonly reference?: boolean;
}

export interface BundleResult extends BundleSpec {
  readonly outfile: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** npm packages whose code went into the bundle. */
  readonly packages: readonly string[];
  readonly containsAxios: boolean;
  /** Bytes each inlined package contributes to the output, largest first; `(own code)` is the repository's. */
  readonly contributions: ReadonlyArray<readonly [string, number]>;
}

export const BUNDLES: readonly BundleSpec[] = [
  { name: 'connect', entry: 'lambdas/connect.ts' },
  { name: 'callback', entry: 'lambdas/callback.ts' },
  { name: 'outcome', entry: 'lambdas/outcome.ts' },
  {
    name: 'intuit-oauth callback (reference)',
    entry: 'bench/reference/intuit-oauth-callback.ts',
    reference: true,
  },
];

export async function buildBundles(root: string, outDir: string): Promise<BundleResult[]> {
  await mkdir(outDir, { recursive: true });
  const results: BundleResult[] = [];
  for (const spec of BUNDLES) {
    const outfile = join(
      outDir,
      `${spec.reference === true ? 'reference-intuit-oauth-callback' : spec.name}.mjs`,
    );
    const result = await build({
      ...(spec.reference === true ? referenceBuildOptions() : esbuildBuildOptions()),
      absWorkingDir: root,
      entryPoints: [join(root, spec.entry)],
      outfile,
      metafile: true,
      logLevel: 'silent',
    });
    const code = await readFile(outfile);
    const packages = packagesIn(result.metafile, root);
    const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
    results.push({
      ...spec,
      outfile,
      bytes: code.length,
      gzipBytes: gzipSync(code, { level: 9 }).length,
      packages,
      // The metafile is authoritative; the string check catches an axios copied in some other way.
      containsAxios: packages.includes('axios') || /\bAxiosError\b|axios\/\d/.test(code.toString('utf8')),
      contributions: contributionsOf(output?.inputs ?? {}),
    });
  }
  return results;
}

function packagesIn(metafile: Metafile, root: string): string[] {
  const names = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const name = packageOf(relative(root, join(root, input)));
    if (name !== undefined) names.add(name);
  }
  return [...names].sort();
}

/** The innermost node_modules names the package (nested copies count under their own name). */
function packageOf(path: string): string | undefined {
  const matches = [
    ...path
      .split('\\')
      .join('/')
      .matchAll(/(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/g),
  ];
  return matches.at(-1)?.[1];
}

function contributionsOf(inputs: Record<string, { bytesInOutput: number }>): Array<[string, number]> {
  const bytes = new Map<string, number>();
  for (const [path, input] of Object.entries(inputs)) {
    const name = packageOf(path) ?? '(own code)';
    bytes.set(name, (bytes.get(name) ?? 0) + input.bytesInOutput);
  }
  return [...bytes.entries()].sort((a, b) => b[1] - a[1]);
}
