import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../../lib/project-paths';

/**
 * The sections of docs/runbook.md by their GitHub heading anchors (lower case, punctuation
 * dropped, spaces to hyphens), each with the text up to the next heading.
 */
export function runbookSections(): Map<string, string> {
  const markdown = fs.readFileSync(path.join(PROJECT_ROOT, 'docs', 'runbook.md'), 'utf8');
  const sections = new Map<string, string>();
  let current: string | undefined;
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    const heading = inFence ? null : /^#{1,6}\s+(.+?)\s*$/.exec(line);
    if (heading !== null) {
      current = heading[1]!
        .toLowerCase()
        .replace(/[^a-z0-9 _-]/g, '')
        .replace(/ /g, '-');
      sections.set(current, '');
    } else if (current !== undefined) {
      sections.set(current, `${sections.get(current)}${line}\n`);
    }
  }
  return sections;
}
