import { PeftError, SeedStream, tf } from '@peftjs/core';

/**
 * The fast Walsh–Hadamard transform along the last axis (length a power of two), unnormalised:
 * H_n·x with H_1 = [1], H_2n = [[H_n, H_n], [H_n, −H_n]] (Sylvester's order), in log2(n) stages
 * of tf ops, so gradients flow through it (H is symmetric: the backward is the same transform).
 */
export function fwht(x: tf.Tensor): tf.Tensor {
  const n = x.shape[x.shape.length - 1]!;
  if (n < 1 || (n & (n - 1)) !== 0) throw new PeftError('invalid-argument', `fwht needs a power-of-two length; got ${n}.`, { field: 'x.shape', value: x.shape, allowed: 'last axis a power of two' });
  // H is symmetric, so the gradient is the same transform of dy; as one custom-gradient op the
  // tape keeps nothing instead of every stage's intermediates (O(n log n) bytes per call).
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: hadamardStages(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => hadamardStages(dy),
  }));
  return (op as (input: tf.Tensor) => tf.Tensor)(x);
}

/** The log2(n) butterfly stages of H_n·x along the last axis. */
function hadamardStages(x: tf.Tensor): tf.Tensor {
  const n = x.shape[x.shape.length - 1]!;
  return tf.tidy(() => {
    const lead = x.shape.slice(0, -1);
    let y = x.reshape([-1, n]);
    const rows = y.shape[0]!;
    for (let half = 1; half < n; half *= 2) {
      // Pairs (i, i + half) within blocks of 2·half: [rows, blocks, 2, half].
      const paired = y.reshape([rows, n / (2 * half), 2, half]);
      const [first, second] = tf.split(paired, 2, 2);
      y = tf.concat([tf.add(first!, second!), tf.sub(first!, second!)], 2).reshape([rows, n]);
    }
    return y.reshape([...lead, n]);
  });
}

/**
 * The Fastfood projection of Le, Sarlós and Smola ("Fastfood: Approximating Kernel Expansions in
 * Loglinear Time", 2013), as Li et al. ("Measuring the Intrinsic Dimension of Objective Landscapes",
 * 2018) and Aghajanyan et al. (Intrinsic SAID, 2020, §2) use it to map a d-dimensional θ_d to a
 * D-dimensional update: pad θ_d with zeros to L = 2^⌈log2 max(d, D)⌉, compute
 *   P(θ_d) = [H·G·Π·H·B·pad(θ_d)]_{1..D} / (√(L·Σ G²)·√(D/L))
 * (B random ±1, H Walsh–Hadamard, Π a random permutation, G Gaussian, all of size L), keeping the
 * first D entries. √(L·Σ G²) makes every column of the full L × L transform unit-norm; keeping D
 * of its L rows leaves a column norm² of about D/L, which the √(D/L) factor restores to 1, as the
 * reference implementation's `fastfood_torched` divides by `divisor * sqrt(DD / LL)` (Li et al.'s
 * and Aghajanyan et al.'s released code). Memory O(L); no D × d matrix is ever formed.
 */
export class Fastfood {
  readonly inputSize: number;
  readonly outputSize: number;
  /** The transform size L. */
  readonly size: number;
  private readonly signs: tf.Tensor1D;
  private readonly permutation: tf.Tensor1D;
  private readonly gaussian: tf.Tensor1D;
  private readonly divisor: number;

  constructor(inputSize: number, outputSize: number, seed: number) {
    if (!Number.isInteger(inputSize) || inputSize < 1 || !Number.isInteger(outputSize) || outputSize < 1) {
      throw new PeftError('invalid-argument', `Fastfood needs positive integer sizes; got d = ${inputSize}, D = ${outputSize}.`, { field: 'd', value: inputSize, allowed: 'positive integers' });
    }
    this.inputSize = inputSize;
    this.outputSize = outputSize;
    this.size = 2 ** Math.ceil(Math.log2(Math.max(inputSize, outputSize, 2)));
    const random = new SeedStream(seed);
    const signs = Float32Array.from({ length: this.size }, () => (random.next() < 0.5 ? -1 : 1));
    const order = Array.from({ length: this.size }, (_, i) => i);
    for (let i = this.size - 1; i > 0; i--) {
      const j = random.nextInt(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const gaussian = Float32Array.from({ length: this.size }, () => {
      // Box–Muller from the seeded stream.
      const u = Math.max(random.next(), 1e-12);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
    });
    this.divisor = Math.sqrt(this.size * gaussian.reduce((sum, value) => sum + value * value, 0)) * Math.sqrt(outputSize / this.size);
    this.signs = tf.tensor1d(signs);
    this.permutation = tf.tensor1d(Int32Array.from(order), 'int32');
    this.gaussian = tf.tensor1d(gaussian);
  }

  /** P(θ) for θ [d] → [D]. */
  project(theta: tf.Tensor): tf.Tensor1D {
    return tf.tidy(() => {
      const padded = this.inputSize === this.size ? theta.reshape([this.size]) : tf.concat([theta.reshape([this.inputSize]), tf.zeros([this.size - this.inputSize])]);
      const mixed = fwht(tf.mul(padded, this.signs));
      const transformed = fwht(tf.mul(tf.gather(mixed, this.permutation), this.gaussian));
      const scaled = tf.div(transformed, this.divisor);
      return (this.outputSize === this.size ? scaled : scaled.slice([0], [this.outputSize])) as tf.Tensor1D;
    });
  }

  /** The factors on the host, for tests and inspection. */
  factors(): { signs: Float32Array; permutation: Int32Array; gaussian: Float32Array; divisor: number } {
    return {
      signs: this.signs.dataSync() as Float32Array,
      permutation: this.permutation.dataSync() as Int32Array,
      gaussian: this.gaussian.dataSync() as Float32Array,
      divisor: this.divisor,
    };
  }

  dispose(): void {
    tf.dispose([this.signs, this.permutation, this.gaussian]);
  }
}
