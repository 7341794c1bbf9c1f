/** The file sink's directory and buffering (FILTER_OUTPUT_DIR, FILTER_FLUSH_*, FILTER_FSYNC). */
export interface FileSinkOptions {
  readonly dir: string;
  /** The buffer is flushed at least this often… */
  readonly flushIntervalMs: number;
  /** …and as soon as it holds this many bytes. */
  readonly flushBytes: number;
  /** fdatasync after each flush. */
  readonly fsync: boolean;
}

export const FILE_SINK_OPTIONS = Symbol('FILE_SINK_OPTIONS');
