import { defineConfig } from 'tsup'

// One entry: bin/weft.js, the committed launcher npm links, runs createProgram from dist/index.js.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
})
