/**
 * A TokenEndpoint that records every call and answers from a script. Each exchange consumes the
 * next scripted behaviour (the last one repeats), so a test says exactly what Intuit does.
 */
import type { ClientCredentials } from '../../../lambdas/core/config';
import type { TokenEndpoint, TokenFailureKind, TokenSet } from '../../../lambdas/core/token-endpoint';
import { TokenEndpointError } from '../../../lambdas/core/token-endpoint';

export const FAKE_TOKENS: TokenSet = {
  accessToken: 'canary-access-token-9f8e7d',
  refreshToken: 'canary-refresh-token-1a2b3c',
  expiresInSeconds: 3600,
  refreshTokenExpiresInSeconds: 8_726_400,
  refreshTokenHardExpiresInSeconds: 157_680_000,
};

export type ExchangeBehaviour =
  | { readonly kind: 'tokens'; readonly tokens?: TokenSet; readonly intuitTid?: string }
  | { readonly kind: 'error'; readonly error: unknown }
  /** Never resolves: the process "crashed" or hung mid-exchange. */
  | { readonly kind: 'hang' }
  /** Resolves or rejects when the test says so. */
  | { readonly kind: 'deferred'; readonly deferred: Deferred<{ tokens: TokenSet; intuitTid?: string }> };

export const succeed = (intuitTid = '1-5f0c2a7e9b3d4c1a2b3c4d5e'): ExchangeBehaviour => ({
  kind: 'tokens',
  intuitTid,
});
export const fail = (
  kind: TokenFailureKind,
  details: ConstructorParameters<typeof TokenEndpointError>[1] = {},
) => ({ kind: 'error', error: new TokenEndpointError(kind, details) }) as const satisfies ExchangeBehaviour;
export const hang = (): ExchangeBehaviour => ({ kind: 'hang' });

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export interface ExchangeCall {
  readonly code: string;
  readonly credentials: ClientCredentials;
  readonly timeoutMs: number;
}

export interface RefreshCall {
  readonly refreshToken: string;
  readonly credentials: ClientCredentials;
  readonly timeoutMs: number;
}

export class FakeTokenEndpoint implements TokenEndpoint {
  readonly exchanges: ExchangeCall[] = [];
  readonly refreshes: RefreshCall[] = [];
  private script: ExchangeBehaviour[];
  /** What refresh requests get, in order (the last one repeats). @default rotated tokens */
  refreshScript: ExchangeBehaviour[] = [];
  private rotation = 0;
  /** Overrides the script per code when set (property tests give each flow its own behaviour). */
  behaviourFor?: (code: string) => ExchangeBehaviour;

  constructor(...script: ExchangeBehaviour[]) {
    this.script = script.length > 0 ? script : [succeed()];
  }

  exchangesOf(code: string): number {
    return this.exchanges.filter((e) => e.code === code).length;
  }

  async exchangeCode(
    code: string,
    credentials: ClientCredentials,
    timeoutMs: number,
  ): Promise<{ tokens: TokenSet; intuitTid?: string }> {
    this.exchanges.push({ code, credentials, timeoutMs });
    return this.answer(this.behaviourFor?.(code) ?? this.next(), FAKE_TOKENS);
  }

  async refresh(
    refreshToken: string,
    credentials: ClientCredentials,
    timeoutMs: number,
  ): Promise<{ tokens: TokenSet; intuitTid?: string }> {
    this.refreshes.push({ refreshToken, credentials, timeoutMs });
    const behaviour =
      (this.refreshScript.length > 1 ? this.refreshScript.shift() : this.refreshScript[0]) ?? succeed();
    this.rotation += 1;
    return this.answer(behaviour, {
      ...FAKE_TOKENS,
      accessToken: `canary-access-token-rotated-${this.rotation}`,
      refreshToken: `canary-refresh-token-rotated-${this.rotation}`,
    });
  }

  private async answer(
    behaviour: ExchangeBehaviour,
    tokens: TokenSet,
  ): Promise<{ tokens: TokenSet; intuitTid?: string }> {
    switch (behaviour.kind) {
      case 'tokens':
        return {
          tokens: behaviour.tokens ?? tokens,
          ...(behaviour.intuitTid !== undefined ? { intuitTid: behaviour.intuitTid } : {}),
        };
      case 'error':
        throw behaviour.error;
      case 'hang':
        return new Promise(() => undefined);
      case 'deferred':
        return behaviour.deferred.promise;
    }
  }

  private next(): ExchangeBehaviour {
    const behaviour = this.script.length > 1 ? this.script.shift() : this.script[0];
    if (behaviour === undefined) throw new Error('empty token endpoint script');
    return behaviour;
  }
}
