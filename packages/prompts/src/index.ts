export * from './prompt-tuning/config';
export * from './prompt-tuning/method';
