export * from './corpus-document';
export * from './sentence-splitter';
export * from './sotu';
export * from './moby-dick';
export * from './brown';
export * from './wordnet';
export * from './spam-assassin';
