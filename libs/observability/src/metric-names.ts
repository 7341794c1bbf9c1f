/** Metric names of CONTRACT.md §7; every app registers all of them so dashboards can rely on them. */
export const RECORDS_TOTAL = 'dataflow_records_total';
export const RECORDS_REJECTED_TOTAL = 'dataflow_records_rejected_total';
export const SINK_WRITE_DURATION = 'dataflow_sink_write_duration_seconds';
export const CIRCUIT_STATE = 'dataflow_circuit_state';
export const RETRIES_TOTAL = 'dataflow_retries_total';
export const END_TO_END_LATENCY = 'dataflow_end_to_end_latency_seconds';

/** `dataflow_circuit_state` values. */
export enum CircuitStateValue {
  Closed = 0,
  HalfOpen = 1,
  Open = 2,
}

/** Beyond the contract's minimum. */
export const WS_FRAME_DURATION = 'dataflow_ws_frame_duration_seconds';
export const RECORDS_ROUTED_TOTAL = 'dataflow_records_routed_total';
export const RECORDS_DROPPED_TOTAL = 'dataflow_records_dropped_total';
export const RULES_INFO = 'dataflow_rules_info';
export const RULES_RELOADS_TOTAL = 'dataflow_rules_reloads_total';
export const TAIL_DROPPED_TOTAL = 'dataflow_tail_dropped_total';
export const OPERATION_DURATION = 'dataflow_operation_duration_seconds';
export const OPERATIONS_TOTAL = 'dataflow_operations_total';
/** Connections or upgrades refused before any frame was read (`/ingest`, `/tail`), by endpoint and reason. */
export const CONNECTIONS_REFUSED_TOTAL = 'dataflow_connections_refused_total';
/** Log lines left out by a {@link LogSampler}; every event is still counted by its own metric. */
export const LOG_LINES_SUPPRESSED_TOTAL = 'dataflow_log_lines_suppressed_total';
/** Frames from a peer that do not follow the protocol (the generator reading the filter's answers). */
export const MALFORMED_FRAMES_TOTAL = 'dataflow_malformed_frames_total';
