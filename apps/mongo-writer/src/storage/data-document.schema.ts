import { Schema } from 'mongoose';
import type { DataRecord } from '@dataflow/contracts';

export const DATA_DOCUMENT_MODEL = 'DataDocument';
export const DATA_COLLECTION = 'data_records';

/**
 * A document of CONTRACT.md §6: the head record's five fields plus `nestedRecords`. Its `_id` is
 * derived from the head (`source:seq`), so writing the same document twice is a no-op, which is
 * what makes redelivery safe without transactions (FerretDB has none).
 */
export interface DataDocument extends DataRecord {
  _id: string;
  nestedRecords: DataRecord[];
}

const recordFields = {
  source: { type: String, required: true },
  seq: { type: Number, required: true },
  timestamp: { type: Number, required: true },
  randomValue: { type: Number, required: true },
  hashValue: { type: String, required: true },
} as const;

const nestedRecordSchema = new Schema<DataRecord>(recordFields, { _id: false, versionKey: false });

export const dataDocumentSchema = new Schema<DataDocument>(
  {
    _id: { type: String, required: true },
    ...recordFields,
    nestedRecords: { type: [nestedRecordSchema], default: [] },
  },
  { collection: DATA_COLLECTION, versionKey: false, autoIndex: false },
);

// The latest document of a source is found by its head seq; this index keeps that one seek.
dataDocumentSchema.index({ source: 1, seq: -1 }, { name: 'source_seq' });

export function documentId(source: string, seq: number): string {
  return `${source}:${seq}`;
}
