export * from './sparse-delta/scatter-add';
export * from './sparse-delta/sparse-delta';
export * from './sparse-delta/select';
export * from './shared/sparse-method';
export * from './random-mask/config';
export * from './random-mask/method';
