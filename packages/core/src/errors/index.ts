export * from './peft-error';
