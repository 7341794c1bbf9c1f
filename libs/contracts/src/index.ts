export * from './data-record';
export * from './record-validation';
export * from './ingest-protocol';
export * from './rabbitmq-topology';
export * from './nesting-rule';
export * from './file-sink-layout';
export * from './tail-protocol';
