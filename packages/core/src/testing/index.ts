export * from './conformance';
export * from './conformance-fixtures';
export * from './crash-resume';
