/** The pipeline's batching and per-source memory (FILTER_MAX_BATCH, FILTER_MAX_SOURCES, FILTER_SOURCE_IDLE_MS). */
export interface PipelineOptions {
  /** Most records of one source in one hand-off. */
  readonly maxBatch: number;
  /** Sources whose state stays in memory, at most. */
  readonly maxSources: number;
  /** A source idle this long leaves memory. */
  readonly sourceIdleMs: number;
  /** How long shutdown waits for the hand-offs in hand. */
  readonly shutdownTimeoutMs: number;
}

export const PIPELINE_OPTIONS = Symbol('PIPELINE_OPTIONS');
