export * from './svd';
