import { Linear, Module, Parameter, tf } from '@peftjs/core';
import { PrefixRows, type LayerPrefixRows } from '../shared/prefix-rows';

/**
 * One layer's prefix as free parameters (Li & Liang §4.1; P-tuning v2's deep prompts): `key` and
 * `value` [P, hidden], heads laid out as [heads, headDim] like the attention's own keys.
 */
export class PlainPrefix extends PrefixRows {
  constructor(key: tf.Tensor, value: tf.Tensor) {
    const [length, hiddenSize] = key.shape as [number, number];
    super(length, hiddenSize);
    this.registerParameter('key', new Parameter(key, { kind: 'weight' }));
    this.registerParameter('value', new Parameter(value, { kind: 'weight' }));
  }

  rows(): LayerPrefixRows {
    return { key: this.parameter('key').value, value: this.parameter('value').value };
  }
}

/**
 * The reparametrization MLP shared by every layer's prefix (Li & Liang §4.3; HF's PrefixEncoder with
 * `prefix_projection`): P = up(tanh(down(P'))) with P' [P, d] (`embedding`), down [d, e], up
 * [e, layers·2·d]; columns l·2d .. l·2d + d are layer l's keys and the next d its values (HF's order).
 */
export class PrefixProjection extends Module {
  readonly length: number;
  readonly hiddenSize: number;
  readonly numLayers: number;

  constructor(options: { length: number; hiddenSize: number; encoderHiddenSize: number; numLayers: number; initStd: number; seed: number }) {
    super();
    this.length = options.length;
    this.hiddenSize = options.hiddenSize;
    this.numLayers = options.numLayers;
    this.registerParameter('embedding', new Parameter(tf.randomNormal([options.length, options.hiddenSize], 0, options.initStd, 'float32', options.seed), { kind: 'weight' }));
    this.registerModule('down', new Linear(options.hiddenSize, options.encoderHiddenSize));
    this.registerModule('up', new Linear(options.encoderHiddenSize, options.numLayers * 2 * options.hiddenSize));
  }

  /** tanh(down(P')) [P, e]: recomputed per layer (P×e, small) so no tensor outlives a forward. */
  private hidden(): tf.Tensor {
    return tf.tanh(this.child('down').forward(this.parameter('embedding').value));
  }

  /** Layer `index`'s keys and values: only that layer's columns of `up` are multiplied. */
  layerRows(index: number): LayerPrefixRows {
    const up = this.child<Linear>('up');
    const size = this.hiddenSize;
    const hidden = this.hidden();
    const columns = (offset: number): tf.Tensor => {
      const weight = up.weight.value.slice([0, offset], [-1, size]);
      const bias = up.bias!.value.slice([offset], [size]);
      return tf.add(tf.matMul(hidden, weight), bias);
    };
    return { key: columns(index * 2 * size), value: columns(index * 2 * size + size) };
  }

  /** Every layer's prefix in HF's layout [P, layers·2·d] (what HF saves as `prompt_embeddings`). */
  allRows(): tf.Tensor {
    return tf.tidy(() => this.child('up').forward(this.hidden()));
  }

  forward(): tf.Tensor {
    return this.allRows();
  }
}

/**
 * One layer's prefix computed by the shared reparametrization MLP. The first layer's provider owns
 * the MLP (its parameters live once in the model tree); the others hold a reference.
 */
export class ProjectedPrefix extends PrefixRows {
  readonly index: number;
  private readonly projection: PrefixProjection;

  constructor(projection: PrefixProjection, index: number, owner: boolean) {
    super(projection.length, projection.hiddenSize);
    this.projection = projection;
    this.index = index;
    if (owner) this.registerModule('projection', projection);
  }

  rows(): LayerPrefixRows {
    return this.projection.layerRows(this.index);
  }
}
