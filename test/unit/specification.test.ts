/**
 * The specification in docs/ is what comments and test names cite: "(C4)", "B1: refuses…",
 * "invariant 5". A citation of an ID or invariant the documents do not define points at nothing, so
 * this test reads the sources and the documents and fails on any such dangling citation.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SOURCE_DIRECTORIES = ['lambdas', 'lib', 'local', 'bin', 'test', 'bench'];

/**
 * One checklist ID: a section letter and a single digit, as in "C4". A second digit rules it out
 * ("F41" is a WCAG technique), which keeps the check conservative.
 */
const ID = '[A-Z][1-9](?![0-9])';
/** Where a wrapped comment continues on the next line: the newline and the `//` or `*` after it. */
const WRAP = '(?:\\n[ \\t]*(?://|\\*)?[ \\t]*)?';
/** Several IDs written together: "C3, C7, G2", "C1/C2/C3/G3", a range "A1-A3", or a list that wraps. */
const ID_LIST = `${ID}(?:(?:,[ \\t]*${WRAP}|/|-)${ID})*`;

/**
 * The forms in which code and tests cite checklist IDs. Each is anchored on context a citation
 * has (a document name, parentheses, a quote or comment start followed by a colon, or a slash
 * between two IDs), so percent-encodings ("%C0"), hex, HTTP statuses, Unicode's "C1 controls" and
 * names such as "AwsSolutions-L1" are not mistaken for citations.
 */
const CITATION_FORMS: readonly RegExp[] = [
  // "docs/security.md A2, A3" (the file name in any case), or the name ending a comment line and "G5)" on the next
  new RegExp(`(?:docs/)?security\\.md,?(?:[ \\t]+|[ \\t]*${WRAP})(${ID_LIST})`, 'gi'),
  // "(C4)", "(B2, B3)", "(C8, invariant 5)", "(C4: a lease must fit…)", "(A2's binding)"
  new RegExp(`\\((${ID_LIST})(?=[),:;'])`, 'g'),
  // IDs that close a parenthesis after other words: "(callback -> outcome page, E1)"
  new RegExp(`, (${ID_LIST})\\)`, 'g'),
  // a test name or a comment that starts with IDs and a colon: 'B1: refuses…', `C7: logs…`, // G5: …
  new RegExp(`(?:['"\`]|//|/\\*\\*?|^[ \\t]*\\*)[ \\t]*(${ID_LIST}):`, 'gm'),
  // "A2/B1" anywhere
  new RegExp(`(?<![\\w%#])(${ID}/${ID_LIST})`, 'g'),
];

/** "invariant 5", "Invariant 6", "invariants 1, 2, 5", "invariants 4 and 6", wrapped or not. */
const INVARIANT_CITATION = new RegExp(`\\binvariants? (\\d+(?:(?:,[ \\t]*${WRAP}| and |, and )\\d+)*)`, 'gi');

/** The files whose text is checked: every TypeScript file of the source directories. */
function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (directory: string): void => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) files.push(path);
    }
  };
  for (const directory of SOURCE_DIRECTORIES) walk(join(ROOT, directory));
  return files;
}

interface Citation {
  readonly file: string;
  readonly cited: string;
}

/** Every checklist ID cited in `text`, once per citation. */
function citedSecurityIds(text: string): string[] {
  const ids: string[] = [];
  for (const form of CITATION_FORMS) {
    for (const match of text.matchAll(form)) {
      // A range "A1-A3" cites every ID from its first to its last.
      for (const [, letter, first, last] of (match[1] ?? '').matchAll(/([A-Z])([1-9])(?:-\1([1-9]))?/g)) {
        for (let n = Number(first); n <= Number(last ?? first); n++) ids.push(`${letter}${n}`);
      }
    }
  }
  return ids;
}

/** Every invariant number cited in `text`. */
function citedInvariants(text: string): number[] {
  const numbers: number[] = [];
  for (const match of text.matchAll(INVARIANT_CITATION)) {
    numbers.push(...(match[1] ?? '').split(/\D+/).map(Number));
  }
  return numbers;
}

function readDocument(name: string): string {
  return readFileSync(join(ROOT, 'docs', name), 'utf8');
}

/** Every document of docs/, by name. */
function documentNames(): string[] {
  return readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md'));
}

/**
 * A test file as the documents cite it: from the repository root (`test/unit/x.test.ts`) or, as the
 * checklist's "Proved by" lines do, relative to `test/` (`infra/data.test.ts`,
 * `contract/connection-store.contract.ts`). A path inside another one (`foo/unit/x.ts`) is not one.
 */
const TEST_PATH = /(?<![\w./-])((?:test\/)?(?:unit|integration|infra|e2e|contract|support)\/[\w./-]*\.ts)\b/g;

/** Every test file path cited in `text`, as a path from the repository root. */
function citedTestPaths(text: string): string[] {
  return [...text.matchAll(TEST_PATH)].map(([, path = '']) =>
    path.startsWith('test/') ? path : `test/${path}`,
  );
}

/** IDs the checklist defines, in order: each entry starts with its ID in bold, "- **C4** …". */
function definedSecurityIds(): string[] {
  return [...readDocument('security.md').matchAll(/^- \*\*([A-Z][1-9][0-9]?)\*\*/gm)].map((m) => m[1] ?? '');
}

/** Invariants the design defines: the numbered list under "## Invariants". */
function definedInvariants(): Set<number> {
  const design = readDocument('design.md');
  const section = design.split(/^## /m).find((part) => part.startsWith('Invariants\n')) ?? '';
  return new Set([...section.matchAll(/^(\d+)\. \*\*/gm)].map((m) => Number(m[1])));
}

function citations(extract: (text: string) => readonly (string | number)[]): Citation[] {
  return sourceFiles().flatMap((path) =>
    extract(readFileSync(path, 'utf8')).map((cited) => ({
      file: relative(ROOT, path),
      cited: String(cited),
    })),
  );
}

describe('the citation patterns', () => {
  const uniqueSorted = (ids: readonly string[]): string[] => [...new Set(ids)].sort();

  it('find IDs in every form the sources use', () => {
    const text = [
      " * the headers of Security.md E2, and the checklist's docs/security.md C8.",
      '// A3: a constant (G1, C4) and (E2, invariant 6) or (B5: no CORS)',
      "it('A4/A3: ignores them', () => {});",
      '  /** D5: never overwrite */',
      '   * E1: 303 to an outcome page',
      'it(`C7: logs ${code}`); given (C3, C4, G2) and C1/C2/C3/G3',
    ].join('\n');
    expect(uniqueSorted(citedSecurityIds(text))).toEqual(
      'A3 A4 B5 C1 C2 C3 C4 C7 C8 D5 E1 E2 G1 G2 G3'.split(' '),
    );
  });

  it('find ranges, IDs that close a parenthesis, and lists that wrap onto the next comment line', () => {
    const text = [
      " * GET /connect: start a flow (security.md A1-A3). A test name (A2's binding)",
      '/** 303 (callback -> outcome page, E1). */',
      '    // a "not configured yet" page (docs/security.md',
      '    // G5), so no credential ever passes through code',
      ' * endpoint saw a code (security.md B1, B4,',
      ' * D1). Screenshots…',
    ].join('\n');
    expect(uniqueSorted(citedSecurityIds(text))).toEqual('A1 A2 A3 B1 B4 D1 E1 G5'.split(' '));
  });

  it('ignore percent-encodings, hex, HTTP codes, rule names and other parenthesised names', () => {
    const text = [
      "replace(/realmId=[^&]+/, 'realmId=%C0%AF')",
      "['a C1 control', '%C2%85'], ['%C3%28']",
      '(WCAG 2.2.1, F41) and (HTTP 503) and 0xC0 and #C1',
      "'AwsSolutions-L1': 'Same decision as AwsSolutions-L1', /^[A-Z2-9]{8}$/",
      'status 403 with fault 003100; a 7001 fault',
    ].join('\n');
    expect(citedSecurityIds(text)).toEqual([]);
  });

  it('find test file paths in both forms the documents use, and nothing else', () => {
    const text = [
      '_Proved by:_ `infra/data.test.ts` ("D1"); `unit/adapters/intuit-token-client.test.ts`;',
      'fails (`test/unit/specification.test.ts`) and `contract/connection-store.contract.ts`,',
      'but not `lambdas/core/time-budget.ts`, `lib/unit/x.ts`, test/infra/ or e2e/browser.test',
    ].join('\n');
    expect(citedTestPaths(text)).toEqual([
      'test/infra/data.test.ts',
      'test/unit/adapters/intuit-token-client.test.ts',
      'test/unit/specification.test.ts',
      'test/contract/connection-store.contract.ts',
    ]);
  });

  it('find invariant numbers alone, in lists and in lists that wrap', () => {
    const text =
      '(docs/design.md invariants 1, 2, 5) and Invariant 6, invariants 3 and 4, invariants 7,\n * 8';
    expect(citedInvariants(text)).toEqual([1, 2, 5, 6, 3, 4, 7, 8]);
  });
});

describe('docs/security.md', () => {
  it('defines the checklist sections A to I, each ID once and in order', () => {
    const expected = { A: 6, B: 7, C: 8, D: 7, E: 3, F: 3, G: 5, H: 5, I: 4 };
    const ids = Object.entries(expected).flatMap(([letter, count]) =>
      Array.from({ length: count }, (_, i) => `${letter}${i + 1}`),
    );
    // In order and each once: a duplicated entry would leave citations ambiguous.
    expect(definedSecurityIds()).toEqual(ids);
  });

  it('defines every security ID that code, tests and benchmarks cite', () => {
    const defined = new Set(definedSecurityIds());
    const found = citations(citedSecurityIds);
    expect(found.length).toBeGreaterThan(100);
    expect(found.filter((c) => !defined.has(c.cited))).toEqual([]);
  });
});

describe('docs/design.md', () => {
  it('defines invariants 1 to 9', () => {
    expect([...definedInvariants()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('defines every invariant that code, tests and benchmarks cite, each between 1 and 9', () => {
    const defined = definedInvariants();
    const found = citations(citedInvariants);
    expect(found.length).toBeGreaterThan(10);
    expect(
      found.filter((c) => !defined.has(Number(c.cited)) || Number(c.cited) < 1 || Number(c.cited) > 9),
    ).toEqual([]);
  });
});

describe('docs/*.md', () => {
  it('cite only test files that exist', () => {
    const cited = documentNames().flatMap((name) =>
      citedTestPaths(readDocument(name)).map((path) => ({ document: `docs/${name}`, path })),
    );
    // The checklist alone cites dozens; finding none would mean the pattern went blind.
    expect(cited.length).toBeGreaterThan(50);
    expect(cited.filter(({ path }) => !existsSync(join(ROOT, path)))).toEqual([]);
  });
});

describe('section citations', () => {
  it('name a heading that the cited document has', () => {
    // `docs/design.md "The callback as a state machine"`: a comment pointing a reader at a section.
    const form = /\b([a-z]+\.md) "([^"\n]+)"/g;
    const headings = new Map(
      documentNames().map((name) => [
        name,
        new Set([...readDocument(name).matchAll(/^#+ (.+)$/gm)].map((m) => m[1] ?? '')),
      ]),
    );
    const found = sourceFiles().flatMap((path) =>
      [...readFileSync(path, 'utf8').matchAll(form)].map(([, document = '', heading = '']) => ({
        file: relative(ROOT, path),
        document,
        heading,
      })),
    );
    expect(found.length).toBeGreaterThan(0);
    expect(found.filter(({ document, heading }) => headings.get(document)?.has(heading) !== true)).toEqual(
      [],
    );
  });
});
