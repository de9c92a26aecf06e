export * from './backend-types';
export * from './init-backend';
export * from './kernel-patches';
export * from './quiet-cpu-backend';
