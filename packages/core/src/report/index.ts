export * from './base-snapshot';
export * from './parameter-report';
export * from './format-parameter-report';
