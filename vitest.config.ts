import { defineConfig } from 'vitest/config';

// Each test file gets its own database on the shared local server (see test/helpers/db.ts),
// so files may run in parallel; two workers suit the 2-core machines this runs on.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
