import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: e2e files start daemons, ffmpeg and X servers; two at a time is what fits.
    maxWorkers: 2,
    reporters: ['default', './test/helpers/plain-reporter.ts'],
  },
});
