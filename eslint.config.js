import nx from '@nx/eslint-plugin';
import prettier from 'eslint-config-prettier';
import simpleImportSort from 'eslint-plugin-simple-import-sort';

const SERVICES = [
  'api-gateway',
  'scheduler',
  'node-agent',
  'billing-meter',
  'log-collector',
  'ingress-router',
  'autoscaler',
  'cli',
  'e2e',
];

/**
 * Module boundaries. Apps never import each other (a service's code, scope:<service>, uses only
 * shared libraries); contracts depend on nothing of ours; the testing library is for tests only.
 */
function boundaries(inTests) {
  const testing = inTests ? ['type:testing'] : [];
  const base = ['type:contracts', 'type:util', 'type:data-access'];
  return [
    'error',
    {
      enforceBuildableLibDependency: false,
      allow: [],
      depConstraints: [
        { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
        { sourceTag: 'type:util', onlyDependOnLibsWithTags: [...base, ...testing] },
        { sourceTag: 'type:data-access', onlyDependOnLibsWithTags: [...base, ...testing] },
        { sourceTag: 'type:testing', onlyDependOnLibsWithTags: base },
        {
          sourceTag: 'type:app',
          onlyDependOnLibsWithTags: [...base, 'type:feature', 'type:driver', ...testing],
        },
        { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: [...base, 'type:testing'] },
        { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
        ...SERVICES.map((svc) => ({
          sourceTag: `scope:${svc}`,
          onlyDependOnLibsWithTags: ['scope:shared', `scope:${svc}`],
        })),
      ],
    },
  ];
}

/** Tests, and the fixtures only tests use (`__fixtures__`, left out of every build). */
const TESTS = ['**/*.spec.ts', '**/*.integration-spec.ts', '**/*.e2e-spec.ts', '**/__fixtures__/**/*.ts'];

/** Zero-warning, type-aware lint. */
export default [
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '.nx/**',
      '.gantry/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'simple-import-sort': simpleImportSort },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      'simple-import-sort/imports': 'error',
      'simple-import-sort/exports': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read configuration through the service config (libs/config), not process.env.',
        },
      ],
      '@nx/enforce-module-boundaries': boundaries(false),
    },
  },
  {
    files: [...TESTS, 'libs/testing/**/*.ts', 'libs/config/**/*.ts', '**/config.ts', 'bench/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: TESTS,
    rules: { '@nx/enforce-module-boundaries': boundaries(true) },
  },
  prettier,
];
