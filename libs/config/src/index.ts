export * from './env-schema';
export * from './config-error';
export * from './validate-env';
export * from './run-app';
export * from './heap-policy';
export * from './listen-host';
