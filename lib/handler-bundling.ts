import * as path from 'node:path';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';
import { PROJECT_ROOT } from './project-paths';
import { trimSourceMapFile } from './source-map-trim';

/**
 * Lets the ESM bundle load CommonJS dependencies that call `require` (esbuild leaves those calls as
 * they are; an ES module has no `require` of its own).
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

const ALIASES_DIR = path.join(PROJECT_ROOT, 'lambdas', 'adapters', 'bundle-aliases');

/**
 * Packages that axios's Node adapter imports but the token client never runs (it sends
 * url-encoded strings with `maxRedirects: 0` and `proxy: false`), replaced in the bundle by small
 * modules of this repository. `form-data` alone pulls in mime-db (133 KiB), and the proxy agent
 * loads `debug` at init. test/integration/token-client-bundle.test.ts proves the bundled client
 * classifies success, redirects, timeouts and refused connections exactly as the unbundled one.
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  'form-data': path.join(ALIASES_DIR, 'form-data.ts'),
  'follow-redirects': path.join(ALIASES_DIR, 'follow-redirects.ts'),
  'https-proxy-agent': path.join(ALIASES_DIR, 'https-proxy-agent.ts'),
  'proxy-from-env': path.join(ALIASES_DIR, 'proxy-from-env.ts'),
};

/**
 * How every handler is bundled, in one place: CDK (lib/constructs/handler-function.ts) and the
 * benchmark (bench/bundles.ts) both derive their esbuild settings from it, so the bench measures
 * exactly what is deployed.
 *
 * The AWS SDK is bundled, not left to the copy in the Lambda runtime: minified and tree-shaken,
 * only the clients and middleware a handler uses are loaded, which makes cold init markedly
 * faster than resolving and evaluating the runtime's full packages from disk.
 */
export const HANDLER_BUNDLING = {
  /** The Node.js 22 Lambda runtime. */
  target: 'node22',
  /** Prefer packages' ES module builds, which esbuild can tree-shake. */
  mainFields: ['module', 'main'],
  minify: true,
  /** Error classes keep their names, so logged error names stay meaningful after minification. */
  keepNames: true,
  /**
   * Written next to the bundle, then trimmed to our own sources (lib/source-map-trim.ts); Node
   * applies it to stack traces only with `--enable-source-maps`.
   */
  sourceMap: true,
  sourcesContent: false,
  banner: ESM_REQUIRE_BANNER,
  aliases: BUNDLE_ALIASES,
  /** What the functions run with: source-mapped stack traces, measured by the bench's cold starts. */
  nodeOptions: '--enable-source-maps',
} as const;

const posixQuote = (value: string): string => `'${value.split("'").join(`'\\''`)}'`;

/** The shell command CDK runs after esbuild: trims the map the way `finishBundle` does. */
function trimCommand(mapFile: string): string {
  return [process.execPath, require.resolve('tsx/cli'), path.join(__dirname, 'source-map-trim.ts'), mapFile]
    .map(posixQuote)
    .join(' ');
}

/** NodejsFunction's `bundling` for a handler. */
export function cdkBundlingOptions(): BundlingOptions {
  return {
    forceDockerBundling: false,
    format: OutputFormat.ESM,
    target: HANDLER_BUNDLING.target,
    banner: HANDLER_BUNDLING.banner,
    mainFields: [...HANDLER_BUNDLING.mainFields],
    minify: HANDLER_BUNDLING.minify,
    keepNames: HANDLER_BUNDLING.keepNames,
    sourceMap: HANDLER_BUNDLING.sourceMap,
    sourcesContent: HANDLER_BUNDLING.sourcesContent,
    bundleAwsSDK: true,
    externalModules: [],
    esbuildArgs: {
      '--alias': Object.entries(HANDLER_BUNDLING.aliases).map(([name, file]) => `${name}=${file}`),
    },
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (_inputDir, outputDir) => [trimCommand(path.join(outputDir, 'index.mjs.map'))],
    },
  };
}

/** What CDK's afterBundling hook does, for a bundle built with `esbuildBuildOptions()`. */
export function finishBundle(outfile: string): void {
  trimSourceMapFile(`${outfile}.map`);
}

/**
 * The same settings as esbuild's JavaScript API takes them (what CDK passes on the command line);
 * call `finishBundle` on the output afterwards, as CDK's afterBundling hook does.
 */
export function esbuildBuildOptions(): BuildOptions {
  return {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: HANDLER_BUNDLING.target,
    banner: { js: HANDLER_BUNDLING.banner },
    mainFields: [...HANDLER_BUNDLING.mainFields],
    minify: HANDLER_BUNDLING.minify,
    keepNames: HANDLER_BUNDLING.keepNames,
    sourcemap: HANDLER_BUNDLING.sourceMap,
    sourcesContent: HANDLER_BUNDLING.sourcesContent,
    external: [],
    alias: { ...HANDLER_BUNDLING.aliases },
  };
}
