export * from './safetensors-dtypes';
export * from './safetensors-header';
export * from './safetensors';
export * from './atomic-write';
export * from './read-file';
export * from './json-file';
export * from './safetensors-file';
