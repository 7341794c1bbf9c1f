import type { DataRecord } from './data-record';

/** Where the filter's rules can send a record: RabbitMQ, the file sink, both, or nowhere. */
export const ROUTE_NAMES = ['queue', 'file', 'both', 'drop'] as const;

export type RouteName = (typeof ROUTE_NAMES)[number];

/**
 * What a `GET /tail` client of the filter receives per handed-on record (`event: record`, the data
 * as JSON): the record, its route, the rule that chose it and the rule set's version.
 */
export interface TailRecord extends DataRecord {
  readonly route: RouteName;
  readonly rule: string;
  readonly rulesVersion: string;
}
