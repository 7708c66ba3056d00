/** The weft command line program, for embedding and tests. */
export { createProgram } from './program.js'
