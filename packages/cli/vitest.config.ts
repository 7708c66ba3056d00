import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['@weft/source'] },
  ssr: { resolve: { conditions: ['@weft/source'] } },
  test: { name: 'cli', include: ['test/**/*.test.ts'] },
})
