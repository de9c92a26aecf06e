export * from './define-hybrid';
export * from './hybrid-registry';
export * from './part-compatibility';
export * from './mam';
export * from './unipelt';
export * from './s4';
export * from './compose-by-name';
export * from './part-report';
