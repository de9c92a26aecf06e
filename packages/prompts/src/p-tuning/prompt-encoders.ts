import { Dropout, Linear, Module, Parameter, globalSeeds, tf } from '@peftjs/core';

/**
 * One direction of one LSTM layer (Hochreiter & Schmidhuber; PyTorch's gate order i, f, g, o):
 * i, f, g, o = split(x_t·W_ih + h_{t−1}·W_hh + b), c_t = σ(f)·c_{t−1} + σ(i)·tanh(g), h_t = σ(o)·tanh(c_t).
 * Weights are [in, 4h] and [h, 4h] (PyTorch stores their transposes), uniform(±1/√h) like PyTorch.
 */
class LstmDirection extends Module<[sequence: tf.Tensor], tf.Tensor> {
  readonly hiddenSize: number;
  readonly reverse: boolean;

  constructor(inputSize: number, hiddenSize: number, reverse: boolean) {
    super();
    this.hiddenSize = hiddenSize;
    this.reverse = reverse;
    const bound = 1 / Math.sqrt(hiddenSize);
    const uniform = (shape: number[]) => tf.randomUniform(shape, -bound, bound, 'float32', globalSeeds().nextSeed());
    this.registerParameter('inputWeight', new Parameter(uniform([inputSize, 4 * hiddenSize])));
    this.registerParameter('hiddenWeight', new Parameter(uniform([hiddenSize, 4 * hiddenSize])));
    this.registerParameter('bias', new Parameter(uniform([4 * hiddenSize]), { kind: 'bias' }));
  }

  /** sequence [T, in] -> hidden states [T, h] in the sequence's order. */
  forward(sequence: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const steps = sequence.shape[0]!;
      const h0 = this.hiddenSize;
      const projected = tf.add(tf.matMul(sequence, this.parameter('inputWeight').value), this.parameter('bias').value);
      let hidden = tf.zeros([1, h0]);
      let cell = tf.zeros([1, h0]);
      const outputs: tf.Tensor[] = new Array<tf.Tensor>(steps);
      for (let k = 0; k < steps; k++) {
        const t = this.reverse ? steps - 1 - k : k;
        const gates = tf.add(projected.slice([t, 0], [1, -1]), tf.matMul(hidden, this.parameter('hiddenWeight').value));
        const [i, f, g, o] = tf.split(gates, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        cell = tf.add(tf.mul(tf.sigmoid(f), cell), tf.mul(tf.sigmoid(i), tf.tanh(g)));
        hidden = tf.mul(tf.sigmoid(o), tf.tanh(cell));
        outputs[t] = hidden;
      }
      return tf.concat(outputs, 0);
    });
  }
}

/**
 * P-tuning's LSTM prompt encoder (Liu et al., "GPT Understands, Too", §3.2, Eq. 3; HF PEFT's
 * PromptEncoder with LSTM): a stacked bidirectional LSTM over the virtual-token table, then
 * Linear(2h, 2h)·ReLU·Linear(2h, d): h_i = MLP([LSTM→(h_{0:i}); LSTM←(h_{i:m})]).
 */
export class LstmPromptEncoder extends Module<[table: tf.Tensor], tf.Tensor> {
  readonly numLayers: number;

  constructor(options: { inputSize: number; hiddenSize: number; outputSize: number; numLayers: number; dropout: number }) {
    super();
    this.numLayers = options.numLayers;
    for (let layer = 0; layer < options.numLayers; layer++) {
      const inputSize = layer === 0 ? options.inputSize : 2 * options.hiddenSize;
      this.registerModule(`forward${layer}`, new LstmDirection(inputSize, options.hiddenSize, false));
      this.registerModule(`backward${layer}`, new LstmDirection(inputSize, options.hiddenSize, true));
    }
    this.registerModule('dropout', new Dropout(options.dropout));
    this.registerModule('mlp1', new Linear(2 * options.hiddenSize, 2 * options.hiddenSize));
    this.registerModule('mlp2', new Linear(2 * options.hiddenSize, options.outputSize));
  }

  /** table [P, d] -> soft tokens [P, d]. PyTorch applies the inter-layer dropout to every layer's output but the last. */
  forward(table: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let sequence = table;
      for (let layer = 0; layer < this.numLayers; layer++) {
        if (layer > 0) sequence = this.child('dropout').forward(sequence);
        sequence = tf.concat([this.child(`forward${layer}`).forward(sequence), this.child(`backward${layer}`).forward(sequence)], 1);
      }
      return this.child('mlp2').forward(tf.relu(this.child('mlp1').forward(sequence)));
    });
  }
}

/** HF PEFT's MLP prompt encoder: Linear(d, e)·ReLU·Linear(e, e)·ReLU·Linear(e, d). */
export class MlpPromptEncoder extends Module<[table: tf.Tensor], tf.Tensor> {
  constructor(inputSize: number, hiddenSize: number, outputSize: number) {
    super();
    this.registerModule('layer1', new Linear(inputSize, hiddenSize));
    this.registerModule('layer2', new Linear(hiddenSize, hiddenSize));
    this.registerModule('layer3', new Linear(hiddenSize, outputSize));
  }

  forward(table: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.child('layer3').forward(tf.relu(this.child('layer2').forward(tf.relu(this.child('layer1').forward(table))))));
  }
}
