import { Parameter, globalSeeds, linearForward, tf } from '@peftjs/core';

/** The four tensors of one bottleneck adapter, in the [in, out] layout of core's Linear. */
export interface BottleneckWeights {
  down: tf.Tensor;
  downBias: tf.Tensor;
  up: tf.Tensor;
  upBias: tf.Tensor;
}

/** The bottleneck width m: `bottleneckSize` when given, else ⌊hidden / reductionFactor⌋ (at least 1), as AdapterHub's `reduction_factor`. */
export function bottleneckWidth(hiddenSize: number, options: { reductionFactor: number; bottleneckSize?: number | undefined }): number {
  return options.bottleneckSize ?? Math.max(1, Math.floor(hiddenSize / options.reductionFactor));
}

/**
 * New bottleneck parameters: W_down [d, m] with LoRA/MAM-style Kaiming-uniform init (bound 1/√d),
 * W_up [m, d] and both biases zero, so the adapter's output is exactly zero at init (the
 * near-identity init of Houlsby et al., "Parameter-Efficient Transfer Learning for NLP", §2.1,
 * made exact as in He et al.'s parallel adapter code).
 */
export function createBottleneckParameters(hiddenSize: number, width: number): Record<string, Parameter> {
  const bound = 1 / Math.sqrt(hiddenSize);
  return {
    adapterDown: new Parameter(tf.randomUniform([hiddenSize, width], -bound, bound, 'float32', globalSeeds().nextSeed()), { kind: 'adapter_down' }),
    adapterDownBias: new Parameter(tf.zeros([width]), { kind: 'adapter_down_bias' }),
    adapterUp: new Parameter(tf.zeros([width, hiddenSize]), { kind: 'adapter_up' }),
    adapterUpBias: new Parameter(tf.zeros([hiddenSize]), { kind: 'adapter_up_bias' }),
  };
}

/** The weights of an adapter made by `createBottleneckParameters`. */
export function bottleneckWeights(parameters: { get(name: string): Parameter }): BottleneckWeights {
  return {
    down: parameters.get('adapterDown').value,
    downBias: parameters.get('adapterDownBias').value,
    up: parameters.get('adapterUp').value,
    upBias: parameters.get('adapterUpBias').value,
  };
}

/**
 * The bottleneck map A(h) = f(h·W_down + b_down)·W_up + b_up (survey "Scaling Down to Scale Up",
 * §5.1 "Adapters": down-projection, non-linearity, up-projection). The residual is added
 * by the caller (the wrapper adds A(h) to the sublayer output).
 */
export function bottleneckForward(x: tf.Tensor, weights: BottleneckWeights, activate: (x: tf.Tensor) => tf.Tensor): tf.Tensor {
  return tf.tidy(() => linearForward(activate(linearForward(x, weights.down, weights.downBias)), weights.up, weights.upBias));
}
