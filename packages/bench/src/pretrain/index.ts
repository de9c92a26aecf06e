export * from './corpus';
export * from './mlm-batches';
export * from './mlm-data';
export * from './masked-positions-model';
export * from './model-card';
export * from './pretrain';
export * from './evaluate-backbone';
