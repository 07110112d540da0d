/**
 * A TokenEncrypter for flow tests: seals by reversing the bytes (opaque enough that no token text
 * survives in it), counts calls, and can fail or hang like an unavailable key service.
 */
import type { TokenEncrypter, TokenSecrets } from '../../../lambdas/core/token-cipher';
import { CipherUnavailableError } from '../../../lambdas/core/token-cipher';

export type SealBehaviour = 'seal' | 'unavailable' | 'hang';

export class FakeTokenEncrypter implements TokenEncrypter {
  readonly sealed: { realmId: string }[] = [];
  behaviour: SealBehaviour = 'seal';

  async encrypt(realmId: string, secrets: TokenSecrets): Promise<Uint8Array> {
    this.sealed.push({ realmId });
    if (this.behaviour === 'unavailable') throw new CipherUnavailableError('encrypt');
    if (this.behaviour === 'hang') return new Promise(() => undefined);
    return Uint8Array.from(
      Buffer.from(`${realmId}\n${secrets.accessToken}\n${secrets.refreshToken}`).reverse(),
    );
  }
}
