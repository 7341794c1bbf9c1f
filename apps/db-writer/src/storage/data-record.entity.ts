import { Column, Entity, PrimaryColumn } from 'typeorm';

/** bigint columns come back from pg as strings; seq and timestamp are safe integers. */
const bigintAsNumber = { to: (value: number) => value, from: (value: string) => Number(value) };

/** `data_records` of CONTRACT.md §6; (source, seq) is the primary key, hence unique. */
@Entity({ name: 'data_records' })
export class DataRecordEntity {
  @PrimaryColumn({ type: 'text' })
  source!: string;

  @PrimaryColumn({ type: 'bigint', transformer: bigintAsNumber })
  seq!: number;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  timestamp!: number;

  @Column({ name: 'random_value', type: 'integer' })
  randomValue!: number;

  @Column({ name: 'hash_value', type: 'char', length: 2 })
  hashValue!: string;

  @Column({ name: 'received_at', type: 'timestamptz', default: () => 'now()' })
  receivedAt!: Date;
}
