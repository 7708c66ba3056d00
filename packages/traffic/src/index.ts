/** Route matching, weighted splits, header routing, fault injection and mirroring. */
export {}
