/**
 * The client's typed errors. Each carries the HTTP status and a stable `code` (the `error` of the
 * connector's JSON answer, or the client's own word for an answer that has none) and never a
 * token, a key or a signature, so logging or serialising an error cannot leak one.
 */

/** Construction details shared by every {@link ConnectorApiError}. */
export interface ConnectorApiErrorDetails {
  /** The HTTP status, or `undefined` when no answer arrived or the client refused to send. */
  readonly status: number | undefined;
  /** Stable machine-readable code. */
  readonly code: string;
  /** API Gateway's request id (`apigw-requestid`), for support, when the answer had one. */
  readonly requestId?: string | undefined;
  /** The failure underneath (a network error), when there is one. */
  readonly cause?: unknown;
}

/**
 * A failed call to the connector's API. Subclasses name the failures an app handles differently;
 * anything else (an unknown status, a malformed answer) is this base class.
 */
export class ConnectorApiError extends Error {
  override readonly name: string = 'ConnectorApiError';
  /** The HTTP status, or `undefined` when no answer arrived or the client refused to send. */
  readonly status: number | undefined;
  /**
   * Stable machine-readable code: the connector's `error` (`invalid_request`,
   * `connection_not_found`, ...) or, for answers without one, `unauthorized` (API Gateway's 403),
   * `throttled` (429), `server_error` (other 5xx), `network_error`, `timeout`,
   * `unexpected_response`.
   */
  readonly code: string;
  /** API Gateway's request id (`apigw-requestid`), for support, when the answer had one. */
  readonly requestId: string | undefined;

  /** @param message - one sentence, free of secrets. */
  constructor(message: string, details: ConnectorApiErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status;
    this.code = details.code;
    this.requestId = details.requestId;
  }

  /** The fields worth logging; `JSON.stringify(error)` would otherwise drop the message. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      status: this.status,
      code: this.code,
      requestId: this.requestId,
    };
  }
}

/**
 * The caller was not let in: a missing or wrong bearer key locally (401), or in AWS a missing or
 * bad SigV4 signature or a role without `execute-api:Invoke` (API Gateway's 403). Not retried.
 */
export class UnauthorizedError extends ConnectorApiError {
  override readonly name: string = 'UnauthorizedError';
}

/**
 * The request was malformed (400 `invalid_request`): a realmId that is not digits, a
 * `minValidSeconds` out of range. Also thrown before sending when the client can tell (then
 * `status` is `undefined` and no request was made). Not retried.
 */
export class InvalidRequestError extends ConnectorApiError {
  override readonly name: string = 'InvalidRequestError';
}

/** The connector knows no connection for this realmId (404 `connection_not_found`). Not retried. */
export class ConnectionNotFoundError extends ConnectorApiError {
  override readonly name: string = 'ConnectionNotFoundError';
}

/** Construction details of a {@link TemporarilyUnavailableError}. */
export interface TemporarilyUnavailableErrorDetails extends ConnectorApiErrorDetails {
  /** The last answer's `Retry-After`, in seconds, when it had one. */
  readonly retryAfterSeconds: number | undefined;
}

/**
 * The connector could not answer now and the client's retries are spent, or the answer's
 * `Retry-After` is longer than the client may wait: the connector's 503 `temporarily_unavailable`
 * (a refresh at Intuit was ambiguous; the stored tokens are kept), API Gateway's 429 or a 5xx, a
 * network error or a timeout. Try again later, not before `retryAfterSeconds` when it is set.
 */
export class TemporarilyUnavailableError extends ConnectorApiError {
  override readonly name: string = 'TemporarilyUnavailableError';
  /** The last answer's `Retry-After`, in seconds, when it had one. */
  readonly retryAfterSeconds: number | undefined;

  /** @param message - one sentence, free of secrets. */
  constructor(message: string, details: TemporarilyUnavailableErrorDetails) {
    super(message, details);
    this.retryAfterSeconds = details.retryAfterSeconds;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), retryAfterSeconds: this.retryAfterSeconds };
  }
}
