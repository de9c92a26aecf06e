import type { Module } from '../nn/module';
import type { PeftMethod } from './types';

// Where modules and methods of any signature are held together, their type parameters are erased.
export type AnyModule = Module<any, any>;
export type AnyPeftMethod = PeftMethod<any>;
