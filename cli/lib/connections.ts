import amqp, { ChannelModel } from 'amqplib';
import { MongoClient } from 'mongodb';
import { Client } from 'pg';
import { connecting } from './errors';

const CONNECT_TIMEOUT_MS = 5000;

export async function openRabbit(url: string): Promise<ChannelModel> {
  const connection = await connecting('RabbitMQ', url, () => amqp.connect(url, { timeout: CONNECT_TIMEOUT_MS }));
  // Errors surface on the channel operations; an unhandled 'error' event must not crash the process.
  connection.on('error', () => undefined);
  return connection;
}

export async function openPostgres(url: string): Promise<Client> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  client.on('error', () => undefined);
  await connecting('PostgreSQL', url, () => client.connect());
  return client;
}

export async function openMongo(url: string): Promise<MongoClient> {
  const client = new MongoClient(url, {
    serverSelectionTimeoutMS: CONNECT_TIMEOUT_MS,
    connectTimeoutMS: CONNECT_TIMEOUT_MS,
  });
  await connecting('MongoDB', url, async () => {
    await client.connect();
    await client.db().command({ ping: 1 });
  });
  return client;
}
