/** File sink layout of CONTRACT.md §6: one file per UTC hour of the record's timestamp. */
export const FILE_SINK_PREFIX = 'records-';
export const FILE_SINK_SUFFIX = '.ndjson';

/** `records-YYYY-MM-DDTHH.ndjson` for the UTC hour holding `timestamp`. */
export function hourFileName(timestamp: number): string {
  // toISOString gives YYYY-MM-DDTHH:mm:ss.sssZ; the first 13 characters are the UTC hour.
  return `${FILE_SINK_PREFIX}${new Date(timestamp).toISOString().slice(0, 13)}${FILE_SINK_SUFFIX}`;
}

export function isSinkFileName(name: string): boolean {
  return /^records-\d{4}-\d{2}-\d{2}T\d{2}\.ndjson$/.test(name);
}
