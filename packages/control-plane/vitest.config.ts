import { defineProject } from 'vitest/config'

export default defineProject({
  resolve: { conditions: ['@weft/source'] },
  ssr: { resolve: { conditions: ['@weft/source'] } },
  test: { name: 'control-plane', include: ['test/**/*.test.ts'] },
})
