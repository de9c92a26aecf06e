import { AdapterWrapper, activation, tf, type ActivationName, type LayerContext, type Module, type Parameter, type WrapperAdapter } from '@peftjs/core';
import { bottleneckForward, bottleneckWeights, createBottleneckParameters } from './bottleneck';

/**
 * Where the adapter reads its input, relative to the wrapped module (a block's `attention` or
 * `ffn` sublayer, or a whole block):
 * - `sequential`: after the module, on its output: contribution s·A(f(x)) (Houlsby et al. §2.1;
 *   the block then adds its own residual, so the module's output becomes f(x) + A(f(x)));
 * - `parallel`: beside the module, on its input: contribution s·A(x) (He et al., "Towards a Unified
 *   View of Parameter-Efficient Transfer Learning", §3.2 "parallel adapter", Eq. 8 with scale s);
 * - `after-norm`: on the block's own LayerNorm of residual + output, A(LN(x + f(x))): AdapterHub's
 *   `original_ln_before` placement of the Pfeiffer adapter in a post-LN block (see pfeiffer/method.ts).
 */
export type AdapterPlacement = 'sequential' | 'parallel' | 'after-norm';

/** What each named adapter of a SublayerAdapter is created with. */
export interface SublayerAdapterOptions {
  placement: AdapterPlacement;
  /** Bottleneck width m. */
  width: number;
  activation: ActivationName;
  /** Scale s on the adapter's output (1 for Houlsby/Pfeiffer, 4 for the scaled parallel adapter). */
  scaling: number;
  /** The block's LayerNorm, for `after-norm` (frozen, not owned: it stays registered in its block). */
  norm?: Module<[tf.Tensor], tf.Tensor>;
}

/**
 * The base of the adapters around a block's sublayer (or a whole block), on core's AdapterWrapper:
 * the base keeps running, the adapter adds its contribution (gateable, several named adapters per
 * layer). A subclass says how an adapter's parameters are made and what A(h) is (a plain
 * bottleneck, Compacter's PHM layers, AdaMix's experts, a pruned bottleneck). Each concrete class
 * is a leaf, so `attachAdapters` never puts one method's adapter into another method's wrapper.
 * Adapters are not linear in the base weights, so there is no `deltaWeight`: merge is a typed
 * `not-mergeable` error.
 */
export abstract class SublayerAdapterBase<Options extends SublayerAdapterOptions = SublayerAdapterOptions> extends AdapterWrapper<[hidden: tf.Tensor, context: LayerContext], tf.Tensor, Options> {
  readonly hiddenSize: number;

  constructor(base: Module<[tf.Tensor, LayerContext], tf.Tensor>, hiddenSize: number) {
    super(base);
    this.hiddenSize = hiddenSize;
  }

  /** A(h) for one adapter. */
  protected abstract adapterOutput(adapter: WrapperAdapter<Options>, input: tf.Tensor): tf.Tensor;

  /** The tensor the adapter reads (also what a gate reads). */
  protected adapterInput(adapter: WrapperAdapter<Options>, baseOutput: tf.Tensor, hidden: tf.Tensor): tf.Tensor {
    switch (adapter.options.placement) {
      case 'sequential':
        return baseOutput;
      case 'parallel':
        return hidden;
      case 'after-norm':
        return adapter.options.norm!.forward(tf.add(hidden, baseOutput));
    }
  }

  protected contribution(adapter: WrapperAdapter<Options>, baseOutput: tf.Tensor, hidden: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const output = this.adapterOutput(adapter, this.adapterInput(adapter, baseOutput, hidden));
      return adapter.options.scaling === 1 ? output : tf.mul(output, adapter.options.scaling);
    });
  }

  /** A sequential adapter's gate reads the sublayer output it adapts (its input), as UniPELT's adapter gate. */
  protected override gateInput(baseOutput: tf.Tensor, hidden: tf.Tensor): tf.Tensor {
    const first = this.activeAdapters()[0];
    return first?.options.placement === 'parallel' ? hidden : baseOutput;
  }

  override get gateInputSize(): number {
    return this.hiddenSize;
  }
}

/** The plain bottleneck adapter: A(h) = f(h·W_down + b_down)·W_up + b_up (Houlsby, Pfeiffer, parallel adapters). */
export class SublayerAdapter extends SublayerAdapterBase {
  protected createParameters(_adapterName: string, options: SublayerAdapterOptions): Record<string, Parameter> {
    return createBottleneckParameters(this.hiddenSize, options.width);
  }

  protected adapterOutput(adapter: WrapperAdapter<SublayerAdapterOptions>, input: tf.Tensor): tf.Tensor {
    return bottleneckForward(input, bottleneckWeights(adapter.parameters), activation(adapter.options.activation));
  }
}
