export * from './backend-types';
export * from './init-backend';
export * from './kernel-patches';
export { findNativeBinding } from './native-binding';
