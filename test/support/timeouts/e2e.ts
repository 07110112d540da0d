// The e2e layer's per-test timeout (jest's testTimeout is not read per project).
jest.setTimeout(120_000);
