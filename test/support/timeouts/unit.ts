// The unit layer's per-test timeout (jest's testTimeout is not read per project).
jest.setTimeout(15_000);
