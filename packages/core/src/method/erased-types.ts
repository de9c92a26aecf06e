import type { Module } from '../nn/module';
import type { PeftMethod } from './types';

// Where modules and methods of any signature are held together, their type parameters are erased.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyModule = Module<any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPeftMethod = PeftMethod<any>;
