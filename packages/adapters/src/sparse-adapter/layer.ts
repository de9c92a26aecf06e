import { AdapterParameters, Parameter, activation, linearForward, tf, type WrapperAdapter } from '@peftjs/core';
import { createBottleneckParameters } from '../shared/bottleneck';
import { SublayerAdapterBase, type SublayerAdapterOptions } from '../shared/sublayer-adapter';

/** The projection matrices SparseAdapter prunes. */
export const PRUNED_WEIGHTS = ['adapterDown', 'adapterUp'] as const;
export type PrunedWeight = (typeof PRUNED_WEIGHTS)[number];

/** A 0/1 mask keeping the `keep` entries with the highest scores (ties broken by position). */
export function topEntriesMask(scores: Float32Array | number[], keep: number): Float32Array {
  const order = Array.from(scores, (score, index) => [score, index] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const mask = new Float32Array(scores.length);
  for (let i = 0; i < keep; i++) mask[order[i]![1]] = 1;
  return mask;
}

/**
 * A bottleneck adapter with fixed 0/1 masks on W_down and W_up (He et al. 2022, §2.2): forward uses
 * W ⊙ M, so pruned entries never contribute and get no gradient; the method also keeps them at
 * zero in storage after every step. Masks are state (saved and loaded), not trained.
 */
export class SparseSublayerAdapter extends SublayerAdapterBase {
  protected createParameters(adapterName: string, options: SublayerAdapterOptions): Record<string, Parameter> {
    const parameters = createBottleneckParameters(this.hiddenSize, options.width);
    // The masks live in the module tree as frozen tensors (`masks_<adapter>.<weight>`), so disposing the model frees them.
    const masks = Object.fromEntries(PRUNED_WEIGHTS.map((name) => [name, new Parameter(tf.ones(parameters[name]!.shape), { kind: 'mask', trainable: false })]));
    this.removeChild(maskChildName(adapterName));
    this.registerModule(maskChildName(adapterName), new AdapterParameters(masks));
    return parameters;
  }

  /** The mask parameters of an adapter (frozen 0/1 tensors). */
  maskOf(adapterName: string, weight: PrunedWeight): Parameter {
    return this.child<AdapterParameters>(maskChildName(adapterName)).get(weight);
  }

  /** Sets an adapter's mask for one weight and zeroes the pruned entries of that weight. */
  setMask(adapterName: string, weight: PrunedWeight, mask: tf.Tensor): void {
    this.maskOf(adapterName, weight).assign(mask);
    this.zeroPruned(adapterName);
  }

  /** Sets pruned entries of the adapter's weights back to zero. */
  zeroPruned(adapterName: string): void {
    const parameters = this.adapter(adapterName).parameters;
    for (const name of PRUNED_WEIGHTS) {
      const parameter = parameters.get(name);
      const mask = this.maskOf(adapterName, name);
      tf.tidy(() => parameter.assign(tf.mul(parameter.value, mask.value)));
    }
  }

  /** Kept (unpruned) entries of an adapter's projection weights. */
  keptEntries(adapterName: string): number {
    return PRUNED_WEIGHTS.reduce((count, name) => count + tf.tidy(() => tf.sum(this.maskOf(adapterName, name).value).dataSync()[0]!), 0);
  }

  override deleteAdapter(name: string): void {
    super.deleteAdapter(name);
    const holder = this.maybeChild<AdapterParameters>(maskChildName(name));
    if (holder) {
      this.removeChild(maskChildName(name));
      holder.dispose();
    }
  }

  protected adapterOutput(adapter: WrapperAdapter<SublayerAdapterOptions>, input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const p = adapter.parameters;
      const down = tf.mul(p.get('adapterDown').value, this.maskOf(adapter.name, 'adapterDown').value);
      const up = tf.mul(p.get('adapterUp').value, this.maskOf(adapter.name, 'adapterUp').value);
      return linearForward(activation(adapter.options.activation)(linearForward(input, down, p.get('adapterDownBias').value)), up, p.get('adapterUpBias').value);
    });
  }
}

function maskChildName(adapterName: string): string {
  return `masks_${adapterName}`;
}
