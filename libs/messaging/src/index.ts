export * from './topology';
export * from './unroutable.error';
export * from './records-rmq.client';
export * from './records-rmq.server';
export * from './records-message.codec';
export * from './delivery-batcher';
export * from './record-writer';
