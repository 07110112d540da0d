// The integration layer's per-test timeout (jest's testTimeout is not read per project).
jest.setTimeout(60_000);
