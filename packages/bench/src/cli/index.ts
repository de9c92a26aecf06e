export * from './cli-io';
export * from './option-parsers';
export * from './presets';
export * from './progress';
export * from './compare-command';
export * from './memory-command';
export * from './list-commands';
export * from './program';
