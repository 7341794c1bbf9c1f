import fc from 'fast-check';
import { Db, MongoClient } from 'mongodb';
import { DataRecord, NestedDocument, nestStream } from '@dataflow/contracts';
import { INSERT_CHUNK, TAILS_COLLECTION } from '../../apps/mongo-writer/src/storage/mongo-nesting.documents';
import type { NestingDocuments } from '../../apps/mongo-writer/src/storage/nesting-documents';
import { NestingWriter } from '../../apps/mongo-writer/src/storage/nesting-writer';
import { prng } from '../support/prng';
import { recordWithHash } from '../support/records';
import { openNestingDatabase } from '../support/nesting-database';

/**
 * The mongo-writer's nesting against the real FerretDB, as a model: random streams (long runs of
 * high hashes, seq gaps, messages the filter published twice), consumed as a broker would deliver
 * them (from the oldest unacknowledged message, in batches of any size), with crashes injected
 * before or after any single store operation, or part-way through an insert (any subset of its
 * commands done, holes included), and, at a hand-over, the old writer still writing
 * while the new one starts over. Whatever happens, once every message is acknowledged the
 * documents must be the nesting rule applied to the stream.
 *
 * FC_SEED, FC_RUNS and FC_LONG_RUNS reproduce or widen a run (fast-check prints the seed and path
 * of a failure).
 */
const RUNS = Number(process.env.FC_RUNS ?? 200);
const LONG_RUNS = Number(process.env.FC_LONG_RUNS ?? 300);
const DATABASE = 'dataflow_nesting_model';

/** A crash of the writer process: it stops at an operation, before or after the operation ran. */
class Crash extends Error {}

/** What the runs exercised, printed at the end: a property that never met a fault proves little. */
const exercised = { runs: 0, records: 0, operations: 0, crashes: 0, partWay: 0, handOvers: 0, conflicts: 0 };

/**
 * Lets one store operation run at a time and picks, with the run's PRNG, which waiting writer goes
 * next, only once every live writer is waiting: the interleaving depends on the seed, not on timing.
 */
class Interleaver {
  private readonly waiting = new Map<number, () => void>();
  private readonly live = new Set<number>();
  private busy = false;

  constructor(private readonly random: () => number) {}

  enter(writer: number): void {
    this.live.add(writer);
  }

  leave(writer: number): void {
    this.live.delete(writer);
    this.dispatch();
  }

  async turn<T>(writer: number, operation: () => Promise<T>): Promise<T> {
    await new Promise<void>((resolve) => {
      this.waiting.set(writer, resolve);
      this.dispatch();
    });
    try {
      return await operation();
    } finally {
      this.busy = false;
      // The writer's own code runs on in microtasks before it asks again or leaves.
      setImmediate(() => this.dispatch());
    }
  }

  private dispatch(): void {
    if (this.busy || this.waiting.size === 0 || this.waiting.size < this.live.size) return;
    const writers = [...this.waiting.keys()].sort((a, b) => a - b);
    const chosen = writers[Math.floor(this.random() * writers.length)] as number;
    const resolve = this.waiting.get(chosen) as () => void;
    this.waiting.delete(chosen);
    this.busy = true;
    resolve();
  }
}

/** Where a crash falls: before or after an operation, or inside an insert (some commands done). */
type CrashPoint = 'before' | 'after' | 'part-way';

/** The real store operations, taken in turns, with a crash at a chosen operation. */
class FaultyDocuments implements NestingDocuments {
  private operations = 0;
  private crashed = false;

  constructor(
    private readonly real: NestingDocuments,
    private readonly interleaver: Interleaver,
    private readonly writer: number,
    private readonly random: () => number,
    private readonly crashAt?: { readonly operation: number; readonly at: CrashPoint },
  ) {}

  /** `partly`: what a crash part-way through leaves done (the whole operation when not given). */
  private run<T>(operation: () => Promise<T>, partly?: () => Promise<unknown>): Promise<T> {
    return this.interleaver.turn(this.writer, async () => {
      if (this.crashed) throw new Crash('the process is gone');
      const index = this.operations++;
      exercised.operations++;
      const at = this.crashAt?.operation === index ? this.crashAt.at : undefined;
      if (at === undefined) return operation();
      this.crashed = true;
      exercised.crashes++;
      if (at === 'part-way' && partly) {
        exercised.partWay++;
        await partly();
      } else if (at !== 'before') await operation();
      throw new Crash(`crashed ${at} operation ${index}`);
    });
  }

  /** The commands of an insert that a crash part-way through leaves done: any subset of them. */
  private someCommands(documents: readonly NestedDocument[]): Promise<unknown> {
    const done: NestedDocument[] = [];
    for (let from = 0; from < documents.length; from += INSERT_CHUNK) {
      if (this.random() < 0.5) done.push(...documents.slice(from, from + INSERT_CHUNK));
    }
    return this.real.insert(done);
  }

  readHint: NestingDocuments['readHint'] = (...args) => this.run(() => this.real.readHint(...args));
  moveHint: NestingDocuments['moveHint'] = (...args) => this.run(() => this.real.moveHint(...args));
  read: NestingDocuments['read'] = (...args) => this.run(() => this.real.read(...args));
  readAll: NestingDocuments['readAll'] = (...args) => this.run(() => this.real.readAll(...args));
  append: NestingDocuments['append'] = (...args) => this.run(() => this.real.append(...args));
  insert: NestingDocuments['insert'] = (documents) =>
    this.run(
      () => this.real.insert(documents),
      () => this.someCommands(documents),
    );
  present: NestingDocuments['present'] = (...args) => this.run(() => this.real.present(...args));
  insertLate: NestingDocuments['insertLate'] = (...args) => this.run(() => this.real.insertLate(...args));
}

interface Step {
  /** Messages the batch takes from the oldest unacknowledged one. */
  readonly messages: number;
  readonly crash?: { readonly operation: number; readonly at: CrashPoint };
  /** At the crash, the writer is not dead but handed over: it keeps writing beside the next one. */
  readonly handOver: boolean;
}

interface Scenario {
  readonly runs: ReadonlyArray<{ readonly high: boolean; readonly length: number }>;
  readonly gaps: readonly number[];
  readonly chunks: readonly number[];
  /** Indexes of messages the filter published a second time (right after the first). */
  readonly republished: readonly number[];
  readonly steps: readonly Step[];
  readonly seed: number;
}

/**
 * Short streams by default; `long` ones are mostly low hashes, so a batch plans more than 100
 * documents (more than one insert command: see INSERT_CHUNK) and a crash part-way through an
 * insert can leave holes.
 */
function scenarios(long: boolean): fc.Arbitrary<Scenario> {
  const runs = long
    ? fc.array(
        fc.record({ high: fc.boolean(), length: fc.integer({ min: 1, max: 4 }) }).map(({ high, length }) => ({
          high,
          length: high ? length : 60 + length * 40,
        })),
        { minLength: 2, maxLength: 5 },
      )
    : fc.array(fc.record({ high: fc.boolean(), length: fc.integer({ min: 1, max: 12 }) }), {
        minLength: 1,
        maxLength: 10,
      });
  const chunk = long ? fc.integer({ min: 40, max: 240 }) : fc.integer({ min: 1, max: 7 });
  return fc.record({
    runs,
    gaps: fc.array(fc.constantFrom(1, 1, 1, 1, 2, 3), { minLength: 60, maxLength: 60 }),
    chunks: fc.array(chunk, { minLength: 60, maxLength: 60 }),
    republished: fc.array(fc.nat({ max: long ? 8 : 30 }), { maxLength: 3 }),
    steps: fc.array(
      fc.record({
        messages: fc.integer({ min: 1, max: 4 }),
        crash: fc.option(
          fc.record({ operation: fc.nat({ max: 10 }), at: fc.constantFrom<CrashPoint>('before', 'after', 'part-way') }),
          { nil: undefined },
        ),
        handOver: fc.boolean(),
      }),
      { minLength: 1, maxLength: 12 },
    ),
    seed: fc.integer(),
  });
}

let run = 0;

function streamOf(scenario: Scenario): { records: DataRecord[]; messages: DataRecord[][] } {
  const source = `model-${process.pid}-${++run}`;
  const records: DataRecord[] = [];
  let seq = 0;
  for (const { high, length } of scenario.runs) {
    for (let i = 0; i < length; i++) {
      seq += scenario.gaps[records.length % scenario.gaps.length] as number;
      records.push(recordWithHash(source, seq, high));
    }
  }
  const messages: DataRecord[][] = [];
  for (let at = 0, i = 0; at < records.length; i++) {
    const size = scenario.chunks[i % scenario.chunks.length] as number;
    messages.push(records.slice(at, at + size));
    if (scenario.republished.includes(messages.length - 1)) messages.push(records.slice(at, at + size));
    at += size;
  }
  return { records, messages };
}

async function documentsOf(db: Db, source: string): Promise<NestedDocument[]> {
  const found = await db
    .collection('data_records')
    .find({ source }, { projection: { _id: 0 } })
    .sort({ seq: 1 })
    .toArray();
  return found as unknown as NestedDocument[];
}

describe('mongo-writer nesting: model-based, against FerretDB', () => {
  let client: MongoClient;
  let db: Db;
  let real: NestingDocuments;

  beforeAll(async () => {
    ({ client, db, documents: real } = await openNestingDatabase(DATABASE));
  });

  afterAll(async () => {
    console.log(`nesting model exercised: ${JSON.stringify(exercised)}`);
    await db.dropDatabase().catch(() => undefined);
    await client.close();
  });

  async function check(long: boolean, runs: number): Promise<void> {
    await fc.assert(
      fc.asyncProperty(scenarios(long), async (scenario) => {
        const { records, messages } = streamOf(scenario);
        const source = records[0]?.source as string;
        const interleaver = new Interleaver(prng(scenario.seed));
        let acked = 0;
        let writers = 0;
        const writerFor = (crashAt?: Step['crash']) => {
          const id = ++writers;
          const documents = new FaultyDocuments(real, interleaver, id, prng(scenario.seed + id), crashAt);
          return { id, writer: new NestingWriter(documents, options) };
        };
        // The stale writer of the last hand-over, still writing.
        let stale: Promise<unknown> | undefined;
        for (let i = 0; acked < messages.length; i++) {
          if (i > 200) throw new Error('no progress: the writers never got every message acknowledged');
          const step: Step = scenario.steps[i] ?? { messages: 4, handOver: false };
          const batch = messages.slice(acked, acked + step.messages);
          const { id, writer } = writerFor(step.crash);
          interleaver.enter(id);
          const writing = writer.write(batch.flat(), { replayed: false }).finally(() => interleaver.leave(id));
          try {
            await writing;
            acked += batch.length;
            await stale;
            stale = undefined;
          } catch (error) {
            if (!(error instanceof Crash)) throw error;
            await stale;
            stale = undefined;
            if (step.handOver) {
              exercised.handOvers++;
              // Not dead after all: a replica that handed its messages over and is still writing
              // them (without further faults) while its successor starts from the same messages.
              const { id: staleId, writer: staleWriter } = writerFor();
              interleaver.enter(staleId);
              stale = staleWriter
                .write(batch.flat(), { replayed: false })
                .catch(() => undefined)
                .finally(() => interleaver.leave(staleId));
            }
          }
        }
        await stale;
        exercised.runs++;
        exercised.records += records.length;
        expect(await documentsOf(db, source)).toEqual(nestStream(records));
        await db.collection('data_records').deleteMany({ source });
        await db.collection<{ _id: string }>(TAILS_COLLECTION).deleteMany({ _id: source });
      }),
      {
        numRuns: runs,
        ...(process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) }),
      },
    );
  }

  it(`documents equal the rule over the stream, whatever the batching, crashes and hand-overs (${RUNS} runs)`, async () => {
    await check(false, RUNS);
  });

  it(`the same for long streams whose batches plan more than one insert command (${LONG_RUNS} runs)`, async () => {
    await check(true, LONG_RUNS);
  });
});

const options = {
  parallelSources: 1,
  maxConflicts: 50,
  onConflict: () => {
    exercised.conflicts++;
  },
};
