/**
 * `npm run doctor -- --env <name> [--probe] [--json]` or `npm run doctor -- --local [--url URL]`:
 * checks an environment (or a running `npm start`) the way an operator would by hand, one line per
 * check, and exits 0 only if nothing failed. See README "Operators' tools".
 */
import { resolveOperatorEnvironment } from './operator/environment';
import { parseArgs } from 'node:util';
import { awsPorts, createAwsClients } from './operator/aws-ports';
import type { DoctorReport } from './operator/doctor-checks';
import { runDeployedDoctor, runLocalDoctor } from './operator/doctor-checks';
import { httpIntuitAccess } from './operator/intuit-access';
import { formatSummary, reportJson, textProgress } from './operator/report';
import type { Terminal } from './operator/report';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const USAGE =
  'usage: npm run doctor -- --env <name> [--probe] [--json]\n' +
  '       npm run doctor -- --local [--url http://localhost:3000] [--probe] [--json]\n';

function terminal(stream: NodeJS.WriteStream): Terminal {
  const noColour = process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '';
  return { write: (text) => void stream.write(text), isTty: stream.isTTY === true && !noColour };
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        env: { type: 'string' },
        local: { type: 'boolean', default: false },
        url: { type: 'string' },
        probe: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  if (values.help || (values.env === undefined) === !values.local) {
    process.stderr.write(USAGE);
    return values.help ? 0 : 2;
  }
  const stdout = terminal(process.stdout);
  const progress = values.json ? {} : textProgress(stdout, terminal(process.stderr));
  const intuit = httpIntuitAccess();
  let report: DoctorReport;
  if (values.local) {
    const url = values.url ?? `http://localhost:${process.env['PORT'] ?? '3000'}`;
    report = await runLocalDoctor({ url, env: process.env, intuit, probe: values.probe }, progress);
  } else {
    const resolved = resolveOperatorEnvironment(values.env);
    if (resolved === undefined) return 2;
    const aws = awsPorts(createAwsClients(resolved.config.region));
    report = await runDeployedDoctor(
      {
        envName: resolved.envName,
        qboEnvironment: resolved.config.qboEnvironment,
        aws,
        intuit,
        probe: values.probe,
      },
      progress,
    );
  }
  stdout.write(values.json ? reportJson(report) : formatSummary(report));
  return report.failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
