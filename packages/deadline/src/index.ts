/** Deadlines in the call context: header codec, propagation, shedding. */
export {}
