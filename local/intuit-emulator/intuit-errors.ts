/**
 * The error bodies Intuit sends, shared by the model's decisions and by the faults that fake them.
 * Their shapes differ on purpose (lower-case `fault` for authentication, `Fault` otherwise), as
 * Intuit's do, so a connector that parses one by accident is caught.
 */
import type { JsonAnswer } from './model';

/** Intuit's answer to a missing, unknown, expired or revoked access token (lower-case keys, as Intuit sends). */
export function authenticationFault(now: number): Record<string, unknown> {
  return {
    fault: {
      error: [
        {
          message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401',
          detail: 'Token invalid',
          code: '3200',
        },
      ],
      type: 'AUTHENTICATION',
    },
    time: new Date(now).toISOString(),
  };
}

/** Intuit's answer to a good token presented for a company it was not granted. */
export function authorizationFault(now: number): Record<string, unknown> {
  return {
    Fault: {
      Error: [
        {
          Message: 'message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403',
          Detail: 'The application is not authorized for this company',
          code: '003100',
        },
      ],
      type: 'SERVICE',
    },
    time: new Date(now).toISOString(),
  };
}

export function invalidGrant(reason: string, description?: string): JsonAnswer {
  return {
    status: 400,
    body: description
      ? { error: 'invalid_grant', error_description: description }
      : { error: 'invalid_grant' },
    outcome: `invalid_grant:${reason}`,
  };
}

export function invalidRequest(reason: string): JsonAnswer {
  return { status: 400, body: { error: 'invalid_request' }, outcome: `invalid_request:${reason}` };
}
