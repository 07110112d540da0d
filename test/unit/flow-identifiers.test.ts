import {
  hashPrefix,
  newReference,
  newState,
  REFERENCE_PATTERN,
  sameSecret,
  sha256Hex,
  STATE_PATTERN,
} from '../../lambdas/core/flow-identifiers';

describe('newState', () => {
  it('A1: is 43 base64url characters encoding 32 bytes', () => {
    const state = newState();
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(state, 'base64url')).toHaveLength(32);
    expect(Buffer.from(state, 'base64url').toString('base64url')).toBe(state);
  });

  it('A1: gives 1000 distinct states in 1000 calls', () => {
    const states = Array.from({ length: 1000 }, () => newState());
    expect(new Set(states).size).toBe(1000);
    for (const state of states) expect(state).toMatch(STATE_PATTERN);
  });

  it('A1: is opaque: no two states share a long prefix (no timestamp or counter inside)', () => {
    const prefixes = new Set(Array.from({ length: 1000 }, () => newState().slice(0, 6)));
    expect(prefixes.size).toBeGreaterThan(990);
  });

  it('A1: uses every base64url character over many states (uniform bytes, not hex or a subset)', () => {
    const seen = new Set(Array.from({ length: 200 }, () => newState()).join(''));
    expect(seen.size).toBe(64);
  });
});

describe('STATE_PATTERN', () => {
  it.each([
    '',
    'a'.repeat(42),
    'a'.repeat(44),
    `${'a'.repeat(42)}=`,
    `${'a'.repeat(42)}+`,
    `${'a'.repeat(42)}.`,
  ])('refuses %j', (value) => {
    expect(STATE_PATTERN.test(value)).toBe(false);
  });
});

describe('sha256Hex and hashPrefix', () => {
  it('hashes to 64 lowercase hex characters (the known SHA-256 of "abc")', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('keeps a 12-character prefix for logs', () => {
    expect(hashPrefix(sha256Hex('abc'))).toBe('ba7816bf8f01');
  });
});

describe('sameSecret', () => {
  it('is true only for identical strings, whatever their lengths', () => {
    expect(sameSecret('state-value', 'state-value')).toBe(true);
    expect(sameSecret('state-value', 'state-valuE')).toBe(false);
    expect(sameSecret('state-value', 'state-value-longer')).toBe(false);
    expect(sameSecret('', 'x')).toBe(false);
  });
});

describe('newReference', () => {
  it('is 8 characters a user can read out (no 0/O or 1/I)', () => {
    for (let i = 0; i < 200; i++) {
      const reference = newReference();
      expect(reference).toMatch(REFERENCE_PATTERN);
      expect(reference).not.toMatch(/[01IO]/);
    }
  });

  it('differs from call to call', () => {
    expect(new Set(Array.from({ length: 200 }, () => newReference())).size).toBe(200);
  });
});
