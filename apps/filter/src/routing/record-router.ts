import type { DataRecord, RouteName } from '@dataflow/contracts';

export type SinkName = 'queue' | 'file';

/** Where one record goes, and which rule of which rule set said so (shared, never mutated). */
export interface RouteDecision {
  readonly rule: string;
  readonly route: RouteName;
  /** Empty for `drop`. */
  readonly sinks: readonly SinkName[];
  /** Why records are dropped (route `drop` only). */
  readonly reason?: string;
  /** Version of the rule set that decided. */
  readonly version: string;
}

/** Decides the route of each record. */
export interface RecordRouter {
  readonly version: string;
  route(record: DataRecord): RouteDecision;
}
