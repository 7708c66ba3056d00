import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  esbuildOptions(options, { format }) {
    // the CJS build loads its lazy @weft packages with require(), as it does the eager ones: an
    // import() there would load their ESM builds beside the CJS ones (two @weft/core, two @weft/policy)
    if (format === 'cjs') options.supported = { ...options.supported, 'dynamic-import': false }
  },
})
