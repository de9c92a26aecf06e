export * from './special-tokens';
export * from './tokenizer-json';
export * from './word-counts';
export * from './wordpiece-trainer';
export * from './bench-tokenizer';
