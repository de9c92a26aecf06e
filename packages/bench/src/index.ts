export * from './tokenizer/index';
export * from './corpora/index';
export * from './tasks/index';
export * from './report/index';
