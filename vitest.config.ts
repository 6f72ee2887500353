import { defineConfig } from 'vitest/config';

/**
 * Tests that judge media timing (a frame within 1.5 s, OCR within 3 s, an MP4's duration) run
 * after everything else and one at a time: on two cores, another file's daemons, ffmpeg and X
 * servers running beside them shift capture by seconds — the machine, not traced.
 */
const MEDIA_TIMING = [
  'test/e2e/capture.test.ts',
  'test/e2e/capture-faults.test.ts',
  'test/e2e/replay-media.test.ts',
  'test/e2e/index.test.ts',
  'test/e2e/orphans.test.ts',
  'test/e2e/scripted-session.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/helpers/plain-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts'],
          exclude: MEDIA_TIMING,
          // Two cores: e2e files start daemons, ffmpeg and X servers; two at a time is what fits.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'media-timing', include: [...MEDIA_TIMING], maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
