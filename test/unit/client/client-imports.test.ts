/** The app client is its own small module: apps take it without the connector's code or the AWS SDK. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const CLIENT_DIR = join(__dirname, '../../../client');
/** The SigV4 signer, the SHA-256 it is given and the credentials' type: nothing else from npm. */
const ALLOWED_PACKAGES = ['@smithy/signature-v4', '@smithy/core/checksum', '@smithy/types'];

function importsOf(file: string): string[] {
  const source = readFileSync(join(CLIENT_DIR, file), 'utf8');
  return [...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'([^']+)'/gm)].map(
    (match) => match[1] ?? '',
  );
}

describe('the client module', () => {
  const files = readdirSync(CLIENT_DIR).filter((file) => file.endsWith('.ts'));

  it('has its files', () => {
    expect(files).toEqual(expect.arrayContaining(['index.ts', 'connector-client.ts']));
  });

  it.each(files)('%s imports only its own files, node: built-ins and the request signer', (file) => {
    const outside = importsOf(file).filter(
      (specifier) =>
        !(specifier.startsWith('./') && !specifier.includes('..')) &&
        !specifier.startsWith('node:') &&
        !ALLOWED_PACKAGES.includes(specifier),
    );
    expect(outside).toEqual([]);
  });

  it('finds the imports it checks', () => {
    expect(importsOf('request-signing.ts')).toEqual(expect.arrayContaining(ALLOWED_PACKAGES));
  });
});
