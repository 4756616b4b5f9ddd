/**
 * One jest run, three projects: unit (`*.spec.ts`), integration (`*.integration-spec.ts`, real
 * PostgreSQL/NATS/Docker) and e2e (`*.e2e-spec.ts`, every service as its own process, one platform
 * start shared by all e2e suites). Native ESM: run with --experimental-vm-modules (scripts/test.mjs).
 */
const swc = [
  '@swc/jest',
  {
    jsc: {
      target: 'es2023',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

const common = {
  rootDir: '.',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc },
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^@gantry/([a-z-]+)$': '<rootDir>/libs/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs}/**/*.integration-spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/tools/jest/timeout-60s.js'],
      slowTestThreshold: 30,
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/e2e/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/e2e/src/global-setup.mjs',
      globalTeardown: '<rootDir>/e2e/src/global-teardown.mjs',
      setupFilesAfterEnv: ['<rootDir>/tools/jest/timeout-120s.js'],
      slowTestThreshold: 60,
    },
  ],
};
