export * from './memory-meter';
export * from './throughput-meter';
export * from './count-tokens';
