import { defineConfig } from 'vitest/config'

// One run over every package and the end-to-end tests; each package's vitest.config.ts is a project.
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'test/vitest.config.ts'],
    reporters: ['default', ['json', { outputFile: '.vitest/report.json' }]],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
})
