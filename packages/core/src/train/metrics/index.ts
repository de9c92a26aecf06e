export * from './accuracy';
export * from './confusion-matrix';
export * from './f1-score';
export * from './matthews-correlation';
export * from './pearson-correlation';
export * from './spearman-correlation';
export * from './mean-squared-error';
export * from './compute-metrics';
