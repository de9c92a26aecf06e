import type { LayerRunner } from './slots';

/**
 * The default layer runner: each block in order, on the previous block's output. Each block's
 * forward runs in its own tf.tidy, so only block outputs outlive a block.
 */
export const sequentialLayerRunner: LayerRunner = {
  run(layers, hidden, context, options) {
    const hiddenStates = options.outputHiddenStates ? [hidden] : undefined;
    let current = hidden;
    for (const layer of layers) {
      current = layer.forward(current, context);
      hiddenStates?.push(current);
    }
    return hiddenStates ? { hidden: current, hiddenStates } : { hidden: current };
  },
};
