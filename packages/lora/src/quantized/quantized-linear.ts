import { Linear, Module, Parameter, resolveTargets, tf, type TargetSelector } from '@peftjs/core';
import { dequantizeWeight, quantizeWeight, quantizedBytes, type QuantFormat, type QuantizedWeight } from './codes';

export interface QuantizeOptions {
  /** `int8` (per output channel) or `nf4` (4-bit NormalFloat, blockwise). Default `nf4`. */
  format?: QuantFormat;
  /** nf4: values per absmax block. Default 64, as in QLoRA. */
  blockSize?: number;
}

/**
 * A frozen Linear whose weight is stored quantized (QLoRA's frozen base: Dettmers et al., "QLoRA:
 * Efficient Finetuning of Quantized LLMs", 2023, §3): packed int32 codes plus float32 scales, the
 * bias kept in float32 and frozen. Nothing here trains; wrap it with LoRA (`lora()` targets it like a
 * Linear, same role and sizes) to fine-tune. It cannot be merged into (LoRA's merge reports
 * 'not-mergeable').
 *
 * The matmul is a tf.customGrad that dequantizes inside its forward and again in its backward
 * (dx = dy·Ŵᵀ), so the tape keeps no float32 copy of the weight between forward and backward: only the
 * codes stay resident. The codes and scales are plain tensors, not parameters.
 */
export class QuantizedLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly format: QuantFormat;
  readonly blockSize: number;
  /** Packed codes, int32. */
  readonly codes: tf.Tensor1D;
  /** Scales, float32: per output channel (int8) or per block (nf4). */
  readonly scales: tf.Tensor1D;
  private readonly product: (x: tf.Tensor2D) => tf.Tensor2D;

  /** Quantizes `linear`'s weight (read once; `linear` is left as it was). */
  constructor(linear: Linear, options: QuantizeOptions = {}) {
    super();
    this.role = linear.role;
    this.inFeatures = linear.inFeatures;
    this.outFeatures = linear.outFeatures;
    const quantized = quantizeWeight(linear.weight.value.dataSync() as Float32Array, [this.inFeatures, this.outFeatures], options.format ?? 'nf4', options.blockSize ?? 64);
    this.format = quantized.format;
    this.blockSize = quantized.blockSize;
    this.codes = tf.tensor1d(quantized.codes, 'int32');
    this.scales = tf.tensor1d(quantized.scales, 'float32');
    if (linear.bias) this.registerParameter('bias', new Parameter(tf.clone(linear.bias.value), { kind: 'bias', trainable: false }));
    const customProduct = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const weight = this.dequantize();
      const value = tf.matMul(inputs[0] as tf.Tensor2D, weight);
      weight.dispose();
      return {
        value,
        gradFunc: (dy: tf.Tensor) => {
          const again = this.dequantize();
          const dx = tf.matMul(dy as tf.Tensor2D, again, false, true);
          again.dispose();
          return [dx];
        },
      };
    });
    this.product = (x) => customProduct(x) as tf.Tensor2D;
  }

  get bias(): Parameter | undefined {
    return this.maybeParameter('bias');
  }

  /** The codes and scales as host arrays. */
  quantizedWeight(): QuantizedWeight {
    return {
      format: this.format,
      shape: [this.inFeatures, this.outFeatures],
      codes: this.codes.dataSync() as Int32Array,
      scales: this.scales.dataSync() as Float32Array,
      blockSize: this.blockSize,
    };
  }

  /** Ŵ [in, out] in float32. Caller owns it. */
  dequantize(): tf.Tensor2D {
    return tf.tensor2d(dequantizeWeight(this.quantizedWeight()), [this.inFeatures, this.outFeatures]);
  }

  /** Bytes of the stored weight (codes + scales; the bias not included). */
  weightBytes(): number {
    return quantizedBytes(this.quantizedWeight());
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const flat = this.product(x.reshape([-1, this.inFeatures]) as tf.Tensor2D);
      const y = this.bias ? tf.add(flat, this.bias.value) : flat;
      return y.reshape([...x.shape.slice(0, -1), this.outFeatures]);
    });
  }

  override dispose(): void {
    super.dispose();
    tf.dispose([this.codes, this.scales]);
  }
}

/**
 * Replaces the Linears matched by `targets` (default: every block linear, `all-linear`) with
 * QuantizedLinear copies and disposes their float32 weights. Call it before `peft(model, [lora(...)])`:
 * LoRA then wraps the quantized linears (QLoRA). Returns the replaced paths.
 *
 * @example
 * quantizeLinears(model, { format: 'nf4' });
 * const tuned = peft(model, [lora({ r: 8, targets: { roles: ['all-linear'] } })]);
 */
export function quantizeLinears(model: Module<any, any>, options: QuantizeOptions & { targets?: TargetSelector } = {}): string[] {
  const matched = resolveTargets(model, options.targets ?? { roles: ['all-linear'] }, { kind: 'module' }).filter(({ module }) => module instanceof Linear);
  for (const { path } of matched) {
    model.replaceModule(path, (current) => {
      const quantized = new QuantizedLinear(current as Linear, options);
      current.dispose();
      return quantized;
    });
  }
  return matched.map(({ path }) => path);
}
