import { FeedForward, Linear, Module, ModuleList, MultiHeadAttention, Parameter, TransformerBlock, leanAdd, noGrad, tf, type LayerContext, type LayerModule, type LayerRunner, type LayerRunOptions, type LayerRunResult } from '@peftjs/core';

export interface LadderSideNetworkOptions {
  hiddenSize: number;
  sideSize: number;
  sideHeads: number;
  sideIntermediate: number;
  numLayers: number;
  causal: boolean;
  preLayerNorm: boolean;
  gateTemperature: number;
  initStd: number;
}

/**
 * The side network of LST (Sung et al. 2022, §3.1–3.2, Figure 2): one downsampler per backbone
 * state (`down.0` for the embeddings, `down.i` for block i), one narrow transformer block per
 * backbone block, gates α_i, and an upsampler. With b_0 the embeddings and b_i block i's output:
 *   s_0 = D_0(b_0);  s_i = Side_i(μ_i·D_i(b_i) + (1 − μ_i)·s_{i−1}),  μ_i = sigmoid(α_i / T)  (Eq. 1)
 * and the output is U(s_L). The paper feeds U(s_L) to the head; here it is added to the backbone's
 * last state b_L with U starting at zero, so the model is unchanged at init and the side network
 * learns a correction (a residual read-out; noted in the package README).
 */
export class LadderSideNetwork extends Module<[states: readonly tf.Tensor[], context: LayerContext], tf.Tensor> {
  readonly options: LadderSideNetworkOptions;

  constructor(options: LadderSideNetworkOptions) {
    super();
    this.options = options;
    const { hiddenSize, sideSize, initStd } = options;
    this.registerModule('down', new ModuleList(Array.from({ length: options.numLayers + 1 }, () => new Linear(hiddenSize, sideSize, { initStd, role: 'side.down' }))));
    const blocks = Array.from(
      { length: options.numLayers },
      () =>
        new TransformerBlock({
          hiddenSize: sideSize,
          layerNormEps: 1e-5,
          preLayerNorm: options.preLayerNorm,
          attention: new MultiHeadAttention({ hiddenSize: sideSize, numHeads: options.sideHeads, attentionDropout: 0, outputDropout: 0, fusedQkv: false, causal: options.causal, initStd }),
          ffn: new FeedForward({ hiddenSize: sideSize, intermediateSize: options.sideIntermediate, activation: 'gelu', dropout: 0, initStd }),
        }),
    );
    this.registerModule('blocks', new ModuleList<LayerModule>(blocks));
    const up = new Linear(sideSize, hiddenSize, { initStd, role: 'side.up' });
    tf.tidy(() => up.weight.assign(tf.zeros(up.weight.shape)));
    this.registerModule('up', up);
    this.registerParameter('gateLogits', new Parameter(tf.zeros([options.numLayers]), { kind: 'ladder_gate' }));
  }

  /** U(s_L) from the backbone states b_0..b_L (constants: no gradient reaches the backbone). */
  forward(states: readonly tf.Tensor[], context: LayerContext): tf.Tensor {
    return tf.tidy(() => {
      const down = this.child<ModuleList<Linear>>('down').items();
      const blocks = this.child<ModuleList<LayerModule>>('blocks').items();
      const gates = tf.sigmoid(tf.div(this.parameter('gateLogits').value, this.options.gateTemperature));
      let side = down[0]!.forward(states[0]!);
      blocks.forEach((block, i) => {
        const mu = tf.slice(gates, [i], [1]);
        const ladder = tf.add(tf.mul(mu, down[i + 1]!.forward(states[i + 1]!)), tf.mul(tf.sub(1, mu), side));
        side = block.forward(ladder, context);
      });
      return this.child<Linear>('up').forward(side);
    });
  }
}

/**
 * The stack's layer runner under LST: the backbone blocks run inside `noGrad` (no tape, none of
 * their intermediates kept), their states are tapped, and only the side network is recorded.
 */
export class LadderLayerRunner implements LayerRunner {
  constructor(
    private readonly side: LadderSideNetwork,
    private readonly backbone: LayerRunner,
  ) {}

  run(layers: readonly LayerModule[], hidden: tf.Tensor, context: LayerContext, options: LayerRunOptions): LayerRunResult {
    const states = noGrad(() => this.backbone.run(layers, hidden, context, { outputHiddenStates: true }).hiddenStates!);
    const last = states[states.length - 1]!;
    const output = leanAdd(last, this.side.forward(states, context));
    // The tapped states stay alive until the caller's tidy ends: the downsamplers' weight gradients read them.
    if (!options.outputHiddenStates) return { hidden: output };
    return { hidden: output, hiddenStates: [...states.slice(0, -1), output] };
  }
}
