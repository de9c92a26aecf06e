export * from './results';
export * from './summary';
export * from './format-numbers';
export * from './table';
export * from './charts';
export * from './report-markdown';
export * from './write-report';
