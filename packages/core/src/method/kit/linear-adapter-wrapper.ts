import { PeftError } from '../../errors/peft-error';
import type { Module } from '../../nn/module';
import type { tf } from '../../nn/tf';
import { AdapterWrapper } from './adapter-wrapper';

/** A module with a linear's feature sizes: a Linear, or a wrapper of one that keeps them. */
export type LinearLike = Module<[tf.Tensor], tf.Tensor> & { readonly inFeatures: number; readonly outFeatures: number };

/** True for Linears and wrappers that keep a linear's feature sizes. */
export function isLinearLike(module: Module<any, any>): module is LinearLike {
  const candidate = module as unknown as Partial<LinearLike>;
  return typeof candidate.inFeatures === 'number' && typeof candidate.outFeatures === 'number' && typeof module.forward === 'function';
}

/** An AdapterWrapper around a linear (or a wrapper of one): passes `inFeatures`/`outFeatures` through. */
export abstract class LinearAdapterWrapper<Options = unknown> extends AdapterWrapper<[tf.Tensor], tf.Tensor, Options> {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(base: Module<[tf.Tensor], tf.Tensor>) {
    if (!isLinearLike(base)) {
      throw new PeftError('invalid-argument', `Expected a Linear (or a wrapper of one) to wrap; got a ${base.constructor.name}.`, { field: 'target', value: base.constructor.name, allowed: ['Linear', 'a wrapper of a Linear'] });
    }
    super(base);
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
  }
}
