export * from './conformance';
export * from './conformance-fixtures';
