/**
 * How the operator tools print: one line per check (colour only on a terminal), a one-line fix
 * under each failure, a progress line on stderr while checks run, or one JSON document.
 */
import type { CheckResult, DoctorProgress, DoctorReport } from './doctor-checks';

export interface Terminal {
  readonly write: (text: string) => void;
  /** Colour and a progress line only when this is a TTY and NO_COLOR is not set. */
  readonly isTty: boolean;
}

const COLOURS = {
  pass: '\x1b[32m',
  fail: '\x1b[31m',
  skip: '\x1b[33m',
  dim: '\x1b[2m',
  reset: '\x1b[0m',
} as const;
const MARKS = { pass: 'pass', fail: 'FAIL', skip: 'skip' } as const;

/** The line (and fix line) printed for one check. */
export function formatCheck(result: CheckResult, colour: boolean): string {
  const paint = (text: string, code: string) => (colour ? `${code}${text}${COLOURS.reset}` : text);
  const line = `${paint(MARKS[result.status], COLOURS[result.status])}  ${result.title.padEnd(30)} ${result.detail}\n`;
  return result.fix !== undefined ? `${line}      ${paint('fix:', COLOURS.dim)} ${result.fix}\n` : line;
}

export function formatSummary(report: DoctorReport): string {
  return `${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped (${report.target})\n`;
}

/** Prints each result as it comes; on a terminal, a progress line on stderr in between. */
export function textProgress(stdout: Terminal, stderr: Terminal): DoctorProgress {
  const clear = () => stderr.isTty && stderr.write('\r\x1b[K');
  return {
    starting(title, index, total) {
      if (stderr.isTty) stderr.write(`\r\x1b[Kchecking ${index}/${total}: ${title}…`);
    },
    finished(result) {
      clear();
      stdout.write(formatCheck(result, stdout.isTty));
    },
  };
}

export function reportJson(report: DoctorReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
