/**
 * The local 3-node RabbitMQ cluster of `scripts/infra.sh cluster` as the harnesses use it (the
 * `scale` chaos scenario, the bench's scale figure): its URLs, starting and stopping it and its
 * nodes, and what its partition queues hold.
 */
import { hostname } from 'node:os';
import amqp from 'amqplib';
import { FILE_DLQ, MONGO_DLQ, POSTGRES_DLQ } from '@dataflow/contracts';
import { deleteTopology } from '@dataflow/messaging/transport/topology';
import { INFRA, mustRun, run } from './services';

export const CLUSTER_NODES = [1, 2, 3] as const;
export const CLUSTER_URLS = CLUSTER_NODES.map((n) => `amqp://guest:guest@127.0.0.1:${5680 + n}`);
/** Partition queues of every sink, the file sink's included. */
const PARTITION_QUEUE = /^dataflow\.records\.(postgres|mongo|file)\.\d+$/;
const DEAD_LETTER_QUEUES = new Set([POSTGRES_DLQ, MONGO_DLQ, FILE_DLQ]);

/** Every node's URL, starting with node `first`: a lost connection moves on to the next node. */
export function nodesFrom(first: number): string {
  const from = first % CLUSTER_URLS.length;
  return [...CLUSTER_URLS.slice(from), ...CLUSTER_URLS.slice(0, from)].join(',');
}

/** `scripts/infra.sh cluster <args>`: up, down, kill-node N, start-node N... */
export async function cluster(...args: string[]): Promise<void> {
  await mustRun(INFRA, ['cluster', ...args], 180_000);
}

/** Deletes the record topology on the cluster (every partition count), so the apps declare it anew. */
export async function resetTopology(): Promise<void> {
  const connection = await amqp.connect(CLUSTER_URLS[0] as string);
  try {
    await deleteTopology(await connection.createChannel());
  } finally {
    await connection.close();
  }
}

/**
 * Messages in the partition queues (ready and unacknowledged), the partition queues that hold
 * ready messages but deliver none (no active consumer takes them), and the messages in the DLQs.
 */
export async function partitionTotals(): Promise<{ records: number; unconsumed: string[]; deadLetters: number }> {
  const listed = await rabbitmqctl([
    'list_queues',
    '-q',
    '--no-table-headers',
    'name',
    'messages',
    'messages_unacknowledged',
  ]);
  let records = 0;
  let deadLetters = 0;
  const unconsumed: string[] = [];
  for (const line of listed.split('\n')) {
    const [name, messages, unacknowledged] = line.trim().split(/\s+/);
    const count = Number(messages);
    if (!name || !Number.isFinite(count)) continue;
    if (DEAD_LETTER_QUEUES.has(name)) deadLetters += count;
    else if (PARTITION_QUEUE.test(name)) {
      records += count;
      if (count > 0 && Number(unacknowledged) === 0) unconsumed.push(name);
    }
  }
  return { records, unconsumed, deadLetters };
}

/** The node that leads most of the partition queues. */
export async function busiestLeader(): Promise<number> {
  const listed = await rabbitmqctl(['list_queues', '-q', '--no-table-headers', 'name', 'leader']);
  const leads = new Map<number, number>();
  for (const line of listed.split('\n')) {
    const [name, leader] = line.trim().split(/\s+/);
    const node = /^rabbit-(\d)@/.exec(leader ?? '')?.[1];
    if (!name || !node || !PARTITION_QUEUE.test(name)) continue;
    leads.set(Number(node), (leads.get(Number(node)) ?? 0) + 1);
  }
  const [busiest] = [...leads.entries()].sort((a, b) => b[1] - a[1]);
  if (!busiest) throw new Error('no partition queue has a leader');
  return busiest[0];
}

/** rabbitmqctl against the first node that answers. */
async function rabbitmqctl(args: readonly string[]): Promise<string> {
  const host = hostname().split('.')[0] ?? 'localhost';
  let last = '';
  for (const node of CLUSTER_NODES) {
    const result = await run('rabbitmqctl', ['-n', `rabbit-${node}@${host}`, ...args], 30_000);
    if (result.code === 0) return result.output;
    last = result.output;
  }
  throw new Error(`rabbitmqctl ${args.join(' ')} failed on every node: ${last}`);
}
