import { readFileSync, writeFileSync } from 'node:fs';

/**
 * A bundle's source map cut down to the repository's own code. Node parses the whole map at
 * load time under `--enable-source-maps`, and with the AWS SDK bundled 95% of it describes
 * node_modules: about 0.9 MB for the callback, several milliseconds of every cold start. Frames in
 * our code keep their TypeScript positions; frames inside a dependency keep their bundle position.
 */

/** The fields of a Source Map v3 file that esbuild writes (no sourcesContent, no sections). */
export interface RawSourceMap {
  readonly version: 3;
  readonly sources: readonly string[];
  readonly names: readonly string[];
  readonly mappings: string;
  readonly sourceRoot?: string;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Map([...BASE64].map((char, index) => [char, index]));

function decodeSegment(segment: string): number[] {
  const fields: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = BASE64_VALUE.get(char);
    if (digit === undefined) throw new Error(`source map: invalid base64 VLQ character "${char}"`);
    value += (digit & 31) * 2 ** shift;
    if ((digit & 32) !== 0) {
      shift += 5;
      continue;
    }
    fields.push(value % 2 === 1 ? -Math.floor(value / 2) : Math.floor(value / 2));
    value = 0;
    shift = 0;
  }
  return fields;
}

function encodeField(field: number): string {
  let value = field < 0 ? -field * 2 + 1 : field * 2;
  let encoded = '';
  do {
    let digit = value & 31;
    value = Math.floor(value / 32);
    if (value > 0) digit |= 32;
    encoded += BASE64[digit]!;
  } while (value > 0);
  return encoded;
}

/** Keeps only the mappings into sources that `keep` accepts; positions of those stay exact. */
export function trimSourceMap(map: RawSourceMap, keep: (source: string) => boolean): RawSourceMap {
  const sourceIndex: Array<number | undefined> = [];
  const sources: string[] = [];
  map.sources.forEach((source, index) => {
    if (!keep(source)) return;
    sourceIndex[index] = sources.length;
    sources.push(source);
  });
  const names: string[] = [];
  const nameIndex = new Map<string, number>();
  // Every field but the generated column is relative to the previous segment of the whole map.
  const input = { source: 0, line: 0, column: 0, name: 0 };
  const output = { source: 0, line: 0, column: 0, name: 0 };
  const lines = map.mappings.split(';').map((line) => {
    let generatedColumn = 0;
    let previousColumn = 0;
    const kept: string[] = [];
    for (const segment of line.split(',')) {
      if (segment === '') continue;
      const fields = decodeSegment(segment);
      generatedColumn += fields[0] ?? 0;
      if (fields.length < 4) continue;
      input.source += fields[1]!;
      input.line += fields[2]!;
      input.column += fields[3]!;
      if (fields.length >= 5) input.name += fields[4]!;
      const source = sourceIndex[input.source];
      if (source === undefined) continue;
      let encoded =
        encodeField(generatedColumn - previousColumn) +
        encodeField(source - output.source) +
        encodeField(input.line - output.line) +
        encodeField(input.column - output.column);
      previousColumn = generatedColumn;
      output.source = source;
      output.line = input.line;
      output.column = input.column;
      if (fields.length >= 5) {
        const name = map.names[input.name] ?? '';
        let index = nameIndex.get(name);
        if (index === undefined) {
          index = names.length;
          names.push(name);
          nameIndex.set(name, index);
        }
        encoded += encodeField(index - output.name);
        output.name = index;
      }
      kept.push(encoded);
    }
    return kept.join(',');
  });
  return {
    version: 3,
    ...(map.sourceRoot !== undefined ? { sourceRoot: map.sourceRoot } : {}),
    sources,
    names,
    mappings: lines.join(';'),
  };
}

/** Whether a source path (as esbuild writes it, relative to the map) is the repository's own code. */
export function isOwnSource(source: string): boolean {
  return !/(^|\/)node_modules\//.test(source.split('\\').join('/'));
}

/** Rewrites the map file in place, keeping only the repository's own sources. */
export function trimSourceMapFile(path: string): void {
  const map = JSON.parse(readFileSync(path, 'utf8')) as RawSourceMap;
  writeFileSync(path, JSON.stringify(trimSourceMap(map, isOwnSource)));
}

// CDK's afterBundling hook runs this file on each function's map (lib/handler-bundling.ts).
if (require.main === module) {
  const files = process.argv.slice(2);
  if (files.length === 0) throw new Error('usage: source-map-trim <file.map>...');
  for (const file of files) trimSourceMapFile(file);
}
