/** The weft policy document: schema, YAML/JSON parsing, validation with field paths, defaults and merging. */
export {}
