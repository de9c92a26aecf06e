import { LayerNorm } from '../nn/layer-norm';
import { Module } from '../nn/module';
import { tf } from '../nn/tf';
import { sequentialLayerRunner } from './layer-runner';
import { ModuleList } from './module-list';
import type { LayerContext, LayerModule, LayerRunner, LayerRunOptions, LayerRunResult } from './slots';

export interface TransformerStackOptions {
  blocks: readonly LayerModule[];
  /** A final LayerNorm after the last block (pre-LN models: GPT-2's ln_f). */
  finalNorm: boolean;
  hiddenSize: number;
  layerNormEps: number;
}

/**
 * The stack of blocks (`encoder` / `decoder`): children `layers` (`layers.0`, `layers.1`, ...)
 * and, for pre-LN models, `finalNorm`. The blocks run through a replaceable `layerRunner`.
 * With hidden states asked for, it returns numLayers + 1 of them: the input and each block's
 * output, the last one after `finalNorm` where there is one (as HF GPT-2 reports them).
 */
export class TransformerStack extends Module<[hidden: tf.Tensor, context: LayerContext, options?: LayerRunOptions], LayerRunResult> {
  /** How the blocks are run; replace it to change how gradient flows through the stack. */
  layerRunner: LayerRunner = sequentialLayerRunner;

  constructor(options: TransformerStackOptions) {
    super();
    this.registerModule('layers', new ModuleList(options.blocks));
    if (options.finalNorm) this.registerModule('finalNorm', new LayerNorm(options.hiddenSize, { eps: options.layerNormEps, role: 'norm.final' }));
  }

  /** The blocks in order (read through the tree, so replaced blocks are seen). */
  layers(): LayerModule[] {
    return this.child<ModuleList<LayerModule>>('layers').items();
  }

  forward(hidden: tf.Tensor, context: LayerContext, options: LayerRunOptions = { outputHiddenStates: false }): LayerRunResult {
    return tf.tidy(() => {
      const result = this.layerRunner.run(this.layers(), hidden, context, options);
      const finalNorm = this.maybeChild('finalNorm');
      const last = finalNorm ? finalNorm.forward(result.hidden) : result.hidden;
      if (!options.outputHiddenStates || !result.hiddenStates) return { hidden: last };
      return { hidden: last, hiddenStates: [...result.hiddenStates.slice(0, -1), last] };
    });
  }
}
