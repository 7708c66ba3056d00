/** Endpoint pickers, outlier detection and endpoint health. */
export {}
