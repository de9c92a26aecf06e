export * from './config';
export * from './layer';
export * from './method';
