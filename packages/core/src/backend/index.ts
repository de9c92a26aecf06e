export * from './backend-types';
export * from './init-backend';
export * from './kernel-patches';
