import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** A focused or skipped test would silently shrink the suite CI runs. */
const FOCUSED_OR_SKIPPED = ['describe', 'it', 'test'].flatMap((object) =>
  ['only', 'skip', 'todo'].map((property) => ({
    object,
    property,
    message: `${object}.${property} leaves tests out of the suite; remove it before committing.`,
  })),
);

export default tseslint.config(
  {
    ignores: ['node_modules/', 'cdk.out/', 'coverage/', 'test-results/', 'bench/out/', '**/*.js', '**/*.mjs'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      'no-console': ['error', { allow: ['warn', 'error'] }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      // Ports are promise-returning; a fake or a cached source fulfils them without awaiting.
      '@typescript-eslint/require-await': 'off',
    },
  },
  { files: ['bin/**', 'local/**', 'bench/**', 'test/**', '.ci/**'], rules: { 'no-console': 'off' } },
  {
    files: ['test/**'],
    rules: {
      // Jest's asymmetric matchers (expect.any, expect.stringMatching) are typed any.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      'no-restricted-properties': ['error', ...FOCUSED_OR_SKIPPED],
      'no-restricted-globals': [
        'error',
        ...['fit', 'fdescribe', 'xit', 'xdescribe', 'xtest'].map((name) => ({
          name,
          message: `${name} leaves tests out of the suite.`,
        })),
      ],
    },
  },
);
