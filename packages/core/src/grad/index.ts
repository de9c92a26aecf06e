export * from './detach';
export * from './no-grad';
export * from './recompute-gradients';
export * from './position-rows';
export * from './lean-add';
export * from './gradient-targets';
