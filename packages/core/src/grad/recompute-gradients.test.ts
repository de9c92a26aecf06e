import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryMeter, measurePeakMemory } from '../meter/memory-meter';
import { FeedForward } from '../models/feed-forward';
import { MultiHeadAttention } from '../models/multi-head-attention';
import type { LayerContext } from '../models/slots';
import { TransformerBlock } from '../models/transformer-block';
import { LayerNorm } from '../nn/layer-norm';
import { Linear } from '../nn/linear';
import type { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { setGlobalSeed } from '../util/random';
import { detach } from './detach';
import { recomputeGradients, type GradientTarget, type RecomputeStage } from './recompute-gradients';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
  MemoryMeter.forBackend();
});

/** x + down(gelu(up(x))) followed by LayerNorm: an MLP block built from core modules. */
class MlpBlock {
  readonly up: Linear;
  readonly down: Linear;
  readonly norm: LayerNorm;
  constructor(width: number) {
    this.up = new Linear(width, 2 * width);
    this.down = new Linear(2 * width, width);
    this.norm = new LayerNorm(width, { eps: 1e-5 });
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.norm.forward(tf.add(x, this.down.forward(tf.tanh(this.up.forward(x))))));
  }
  parameters(): Parameter[] {
    return [...this.up.parameters(), ...this.down.parameters(), ...this.norm.parameters()];
  }
  dispose(): void {
    for (const parameter of this.parameters()) parameter.dispose();
  }
}

/** Plain tape over the whole chain: the reference. */
function plainGradients(input: tf.Tensor, stages: readonly RecomputeStage[], loss: (h: tf.Tensor) => tf.Scalar, targets: readonly Parameter[]) {
  const trainable = targets.filter((p) => p.trainable);
  const { value, grads } = tf.variableGrads(() => loss(stages.reduce((h, stage) => stage.forward(h), input)), trainable.map((p) => p.variable));
  return { value, gradients: new Map(trainable.filter((p) => grads[p.variable.name]).map((p) => [p as GradientTarget, grads[p.variable.name]!])) };
}

function maxAbsDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

function maxAbs(tensor: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tensor)).dataSync()[0]!);
}

/**
 * Compares every gradient, and first requires each reference gradient to be at least 1000x the tolerance:
 * a comparison of gradients that are (nearly) zero passes whatever the code computes.
 */
function expectSameGradients(
  actual: Map<GradientTarget, tf.Tensor>,
  expected: Map<GradientTarget, tf.Tensor>,
  tolerance = 1e-6,
  structurallyZero: ReadonlySet<GradientTarget> = new Set(),
): void {
  expect(new Set(actual.keys())).toEqual(new Set(expected.keys()));
  for (const [target, gradient] of expected) {
    if (!structurallyZero.has(target)) expect(maxAbs(gradient), `size of the gradient of ${target.shape.join('x')}`).toBeGreaterThan(1000 * tolerance);
    const difference = maxAbsDifference(actual.get(target)!, gradient);
    expect(difference, `gradient of ${target.shape.join('x')}`).toBeLessThanOrEqual(tolerance);
  }
}

/**
 * An O(1) loss with O(1) gradients for every parameter: a fixed random-weighted sum of the outputs, scaled by
 * 1/sqrt(rows). (The mean of squares of a LayerNorm output with gamma = 1, beta = 0 is a constant, so it
 * would give zero gradients to everything below the last norm.)
 */
function randomWeightedSum(shape: readonly number[], seed: number): { loss: (h: tf.Tensor) => tf.Scalar; weights: tf.Tensor } {
  const weights = tf.randomNormal([...shape], 0, 1, 'float32', seed);
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return { weights, loss: (h) => tf.tidy(() => tf.div(tf.sum(tf.mul(h, weights)), Math.sqrt(rows)) as tf.Scalar) };
}

function disposeAll(...maps: Array<Map<GradientTarget, tf.Tensor>>): void {
  for (const map of maps) tf.dispose([...map.values()]);
}

describe('recomputeGradients', () => {
  it('matches the plain tape on an MLP stack, loss head parameters included', () => {
    setGlobalSeed(3);
    const width = 16;
    const blocks = Array.from({ length: 3 }, () => new MlpBlock(width));
    const head = new Linear(width, 1);
    const input = tf.randomNormal([4, 5, width], 0, 1, 'float32', 11);
    const target = tf.randomNormal([4, 5, 1], 0, 1, 'float32', 12);
    const stages = blocks.map((block) => ({ forward: (h: tf.Tensor) => block.forward(h), parameters: block.parameters() }));
    const loss = (h: tf.Tensor) => tf.losses.meanSquaredError(target, head.forward(h)) as tf.Scalar;
    const all = [...blocks.flatMap((b) => b.parameters()), ...head.parameters()];

    const tensorsBefore = tf.memory().numTensors;
    const recomputed = recomputeGradients({ input, stages, loss, lossParameters: head.parameters() });
    expect(tf.memory().numTensors).toBe(tensorsBefore + 1 + all.length);
    const reference = plainGradients(input, stages, loss, all);
    expect(recomputed.loss.dataSync()[0]).toBeCloseTo(reference.value.dataSync()[0]!, 6);
    expectSameGradients(recomputed.gradients, reference.gradients);
    disposeAll(recomputed.gradients, reference.gradients);
    tf.dispose([recomputed.loss, reference.value, input, target]);
    blocks.forEach((b) => b.dispose());
    head.dispose();
  });

  it('asks no gradient of frozen parameters and skips the frozen stages before the first trainable one', () => {
    setGlobalSeed(4);
    const width = 8;
    const blocks = Array.from({ length: 4 }, () => new MlpBlock(width));
    for (const p of blocks[0]!.parameters()) p.freeze();
    for (const p of blocks[1]!.parameters()) p.freeze();
    blocks[2]!.up.weight.freeze();
    const input = tf.randomNormal([3, width], 0, 1, 'float32', 21);
    const calls = blocks.map(() => 0);
    const stages = blocks.map((block, i) => ({
      forward: (h: tf.Tensor) => {
        calls[i]! += 1;
        return block.forward(h);
      },
      parameters: block.parameters(),
    }));
    const { loss, weights } = randomWeightedSum([3, width], 22);
    const all = blocks.flatMap((b) => b.parameters());
    const recomputed = recomputeGradients({ input, stages, loss });
    // Frozen stages 0 and 1 ran once (forward only), the trainable ones twice.
    expect(calls).toEqual([1, 1, 2, 2]);
    expect(recomputed.gradients.has(blocks[2]!.up.weight)).toBe(false);
    expect(recomputed.gradients.has(blocks[2]!.up.bias!)).toBe(true);
    const reference = plainGradients(input, blocks.map((b) => ({ forward: (h: tf.Tensor) => b.forward(h), parameters: [] })), loss, all);
    expect(recomputed.gradients.size).toBe(all.filter((p) => p.trainable).length);
    expectSameGradients(recomputed.gradients, reference.gradients);
    disposeAll(recomputed.gradients, reference.gradients);
    tf.dispose([recomputed.loss, reference.value, input, weights]);
    blocks.forEach((b) => b.dispose());
  });

  it('matches the plain tape on transformer blocks with dropout (the seed stream is rewound)', () => {
    setGlobalSeed(5);
    const width = 16;
    const blocks = Array.from({ length: 2 }, (_, i) => new TransformerBlock({
      hiddenSize: width,
      layerNormEps: 1e-5,
      preLayerNorm: i % 2 === 0,
      attention: new MultiHeadAttention({ hiddenSize: width, numHeads: 2, attentionDropout: 0.2, outputDropout: 0.2, fusedQkv: false, causal: false, initStd: 0.2 }),
      ffn: new FeedForward({ hiddenSize: width, intermediateSize: 32, activation: 'gelu', dropout: 0.2, initStd: 0.2 }),
    }));
    const input = tf.randomNormal([2, 6, width], 0, 1, 'float32', 31);
    const context: LayerContext = { attentionMask: tf.tensor2d([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]) };
    const stages = blocks.map((block) => ({ forward: (h: tf.Tensor) => block.forward(h, context), parameters: block.parameters() }));
    const { loss, weights } = randomWeightedSum([2, 6, width], 32);
    const all = blocks.flatMap((b) => b.parameters());

    setGlobalSeed(77);
    const recomputed = recomputeGradients({ input, stages, loss });
    setGlobalSeed(77);
    const reference = plainGradients(input, stages, loss, all);
    expect(recomputed.loss.dataSync()[0]).toBeCloseTo(reference.value.dataSync()[0]!, 6);
    // Softmax is invariant to a shift shared by every key, so the key bias has a zero gradient by construction.
    const keyBiases = new Set<GradientTarget>(blocks.map((b) => b.attention.child('key').parameter('bias')));
    expectSameGradients(recomputed.gradients, reference.gradients, 1e-6, keyBiases);
    disposeAll(recomputed.gradients, reference.gradients);
    tf.dispose([recomputed.loss, reference.value, input, context.attentionMask!, weights]);
    blocks.forEach((b) => b.dispose());
  });

  it('adds up the gradients of a parameter used in several stages and the head (tied weights)', () => {
    const shared = tf.variable(tf.randomNormal([6, 6], 0, 0.5, 'float32', 41));
    const input = tf.randomNormal([3, 6], 0, 1, 'float32', 42);
    const stage = { forward: (h: tf.Tensor) => tf.tanh(tf.matMul(h, shared)), parameters: [shared] };
    const loss = (h: tf.Tensor) => tf.sum(tf.matMul(h, shared)) as tf.Scalar;
    const recomputed = recomputeGradients({ input, stages: [stage, stage], loss, lossParameters: [shared] });
    const { value, grads } = tf.variableGrads(() => loss(stage.forward(stage.forward(input))), [shared]);
    expect(maxAbs(grads[shared.name]!)).toBeGreaterThan(1e-3);
    expect(maxAbsDifference(recomputed.gradients.get(shared)!, grads[shared.name]!)).toBeLessThanOrEqual(1e-6);
    tf.dispose([recomputed.loss, ...recomputed.gradients.values(), value, ...Object.values(grads), shared, input]);
  });

  it('leaks nothing across steps and holds less at its peak than the plain tape on a deep stack', () => {
    setGlobalSeed(6);
    const width = 32;
    const blocks = Array.from({ length: 8 }, () => new MlpBlock(width));
    const input = tf.randomNormal([16, 8, width], 0, 1, 'float32', 51);
    const stages = blocks.map((block) => ({ forward: (h: tf.Tensor) => block.forward(h), parameters: block.parameters() }));
    const loss = (h: tf.Tensor) => tf.mean(tf.square(h)) as tf.Scalar;
    const all = blocks.flatMap((b) => b.parameters());
    const step = (recompute: boolean) => () => {
      const { gradients, loss: value } = recompute
        ? recomputeGradients({ input, stages, loss })
        : (({ value: v, gradients: g }) => ({ loss: v, gradients: g }))(plainGradients(input, stages, loss, all));
      tf.dispose([value, ...gradients.values()]);
    };
    const tensorsBefore = tf.memory().numTensors;
    const first = measurePeakMemory(step(true));
    const second = measurePeakMemory(step(true));
    const plain = measurePeakMemory(step(false));
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect([first.endBytes, second.endBytes, plain.endBytes]).toEqual([0, 0, 0]);
    expect(second.peakBytes).toBe(first.peakBytes);
    // The tape keeps ~6 activations per block; recompute keeps one boundary per block plus one block's tape.
    const activationBytes = 16 * 8 * width * 4;
    expect(plain.peakBytes - first.peakBytes).toBeGreaterThan(2 * blocks.length * activationBytes);
    tf.dispose(input);
    blocks.forEach((b) => b.dispose());
  });

  it('stops the backward at a stage that detaches its input (no ones-gradient below it)', () => {
    const below = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
    const above = tf.variable(tf.tensor2d([[0.5, 0], [0, 0.5]]));
    const input = tf.tensor2d([[1, 1]]);
    const stages = [
      { forward: (h: tf.Tensor) => tf.matMul(h, below), parameters: [below] },
      { forward: (h: tf.Tensor) => detach(h), parameters: [] },
      { forward: (h: tf.Tensor) => tf.matMul(h, above), parameters: [above] },
    ];
    const { loss, gradients } = recomputeGradients({ input, stages, loss: (h) => tf.sum(h) as tf.Scalar });
    expect([...gradients.keys()]).toEqual([above]);
    // d/dA sum(c·A) with c = [1,1]·below = [4, 6]: every column gets c^T.
    expect(Array.from(gradients.get(above)!.dataSync())).toEqual([4, 4, 6, 6]);
    tf.dispose([loss, ...gradients.values(), below, above, input]);
  });

  it('rejects a loss that is not a scalar, leaking nothing', () => {
    const weight = tf.variable(tf.ones([2, 2]));
    const input = tf.ones([1, 2]);
    const before = tf.memory().numTensors;
    expect(() => recomputeGradients({
      input,
      stages: [{ forward: (h) => tf.matMul(h, weight), parameters: [weight] }],
      loss: (h) => h as unknown as tf.Scalar,
    })).toThrow(/scalar/);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([weight, input]);
  });

  it('rejects a call with nothing to differentiate', () => {
    const input = tf.zeros([2, 2]);
    expect(() => recomputeGradients({ input, stages: [], loss: (h) => tf.sum(h) as tf.Scalar })).toThrow(/trainable parameter/);
    input.dispose();
  });
});
