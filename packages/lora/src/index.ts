export * from './lora/config';
export * from './lora/layer';
export * from './lora/embedding-layer';
export * from './lora/trainable-copy-linear';
export * from './lora/hf-format';
export * from './lora/method';
