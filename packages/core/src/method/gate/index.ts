export * from './config';
export * from './method';
