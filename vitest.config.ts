import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests share one Postgres server and one Kafka broker; two files at a time
    // keeps a 2-core machine responsive without serialising everything.
    maxWorkers: 2,
    // Task logs are asserted through the store, not read: keep test output to failures.
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
    reporters: process.env.CI_JSON_REPORT
      ? ['default', ['json', { outputFile: process.env.CI_JSON_REPORT }]]
      : ['default'],
  },
});
