export * from './tokenizer/index';
export * from './corpora/index';
export * from './tasks/index';
export * from './report/index';
export * from './tasks/custom-task';
export * from './runner/index';
export * from './cli/index';
export * from './pretrain/index';
