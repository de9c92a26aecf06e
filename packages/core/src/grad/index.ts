export * from './detach';
export * from './no-grad';
export * from './recompute-gradients';
