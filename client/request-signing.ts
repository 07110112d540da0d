/**
 * How the client proves who it is: the bearer key `npm start` prints, or in AWS a SigV4 signature
 * over the very request it sends (API Gateway's IAM authorisation, service `execute-api`).
 */
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity } from '@smithy/types';

/** Local `npm start`: the key it prints as `API key: <key>` (or `CONNECTOR_API_KEY`). */
export interface BearerAuth {
  readonly kind: 'bearer';
  /** Sent as `Authorization: Bearer <apiKey>`. */
  readonly apiKey: string;
}

/**
 * In AWS: SigV4 with credentials allowed to `execute-api:Invoke` the connector's API, usually
 * those of its `ApiCallerRole` assumed by the app.
 */
export interface SigV4Auth {
  readonly kind: 'sigv4';
  /** The region the connector is deployed in, e.g. `eu-west-1`. */
  readonly region: string;
  /**
   * Fixed credentials, or a provider asked before every request (so temporary credentials are
   * renewed by the provider, e.g. the AWS SDK's `fromTemporaryCredentials`, which caches them).
   */
  readonly credentials: AwsCredentialIdentity | (() => Promise<AwsCredentialIdentity>);
}

/** How a {@link ConnectorClient} authenticates its requests. */
export type ConnectorAuth = BearerAuth | SigV4Auth;

/** One request as it will go on the wire; `query` is already in `url`, encoded as SigV4 encodes it. */
export interface OutgoingRequest {
  readonly method: string;
  readonly url: URL;
  readonly query: Readonly<Record<string, string>>;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
}

/** Adds the authentication headers to one request (again on every attempt: SigV4 dates it). */
export type RequestAuthorizer = (request: OutgoingRequest) => Promise<Record<string, string>>;

/** The authorizer for the configured authentication. */
export function requestAuthorizer(auth: ConnectorAuth): RequestAuthorizer {
  switch (auth.kind) {
    case 'bearer': {
      if (typeof auth.apiKey !== 'string' || !/^[\x21-\x7e]+$/.test(auth.apiKey)) {
        // The key itself is not quoted: this message may end up in a log.
        throw new TypeError('ConnectorClient: auth.apiKey must be a non-empty key of printable characters.');
      }
      const authorization = `Bearer ${auth.apiKey}`;
      return async (request) => ({ ...request.headers, authorization });
    }
    case 'sigv4':
      return sigV4Authorizer(auth);
    default:
      throw new TypeError("ConnectorClient: auth.kind must be 'bearer' or 'sigv4'.");
  }
}

function sigV4Authorizer(auth: SigV4Auth): RequestAuthorizer {
  if (typeof auth.region !== 'string' || !/^[a-z0-9-]+$/.test(auth.region)) {
    throw new TypeError('ConnectorClient: auth.region must be an AWS region such as eu-west-1.');
  }
  const signer = new SignatureV4({
    service: 'execute-api',
    region: auth.region,
    credentials: auth.credentials,
    sha256: Sha256,
    // As `curl --aws-sigv4 aws:amz:REGION:execute-api` does: the payload's hash goes into the
    // signature, not into an x-amz-content-sha256 header (only S3 requires that header).
    applyChecksum: false,
  });
  return async (request) => {
    const { url } = request;
    const signed = await signer.sign({
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port === '' ? {} : { port: Number(url.port) }),
      path: url.pathname,
      query: { ...request.query },
      // fetch sends exactly this Host (it derives it from the URL); it must be signed.
      headers: { ...request.headers, host: url.host },
      ...(request.body === undefined ? {} : { body: request.body }),
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) {
      if (name.toLowerCase() !== 'host') headers[name.toLowerCase()] = value;
    }
    return headers;
  };
}
