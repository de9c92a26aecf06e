import { invalidArgument } from '../errors/peft-error';
import { Dropout } from '../nn/dropout';
import { Linear } from '../nn/linear';
import { Module } from '../nn/module';
import { scaledDotProductAttention } from '../nn/scaled-dot-product-attention';
import { tf } from '../nn/tf';
import { additiveAttentionMask } from './attention-mask';
import { PrefixChain } from './prefix-chain';
import type { LayerContext, PrefixProvider } from './slots';

export interface MultiHeadAttentionOptions {
  hiddenSize: number;
  numHeads: number;
  /** Dropout on the attention probabilities. */
  attentionDropout: number;
  /** Dropout on the output projection (HF's hidden/residual dropout). */
  outputDropout: number;
  /** One [hidden, 3·hidden] projection split into q, k, v (GPT-2's c_attn) instead of three. */
  fusedQkv: boolean;
  /** Queries see only keys at or before their position. */
  causal: boolean;
  /** Std of the projection weights' normal init. */
  initStd: number;
  /** Std of the output projection's init (GPT-2 scales it by 1/√(2·layers)). Default initStd. */
  outputInitStd?: number;
}

/**
 * Multi-head scaled dot-product attention (Vaswani et al., "Attention Is All You Need", §3.2),
 * the block's `attention` sublayer: returns dropout(output(attend(x))) before the residual add.
 *
 * Children: `query`/`key`/`value`/`output` (BERT) or `qkv`/`output` (GPT-2), dropouts, and the
 * optional `prefix` slot (see PrefixProvider), which is read on every forward so a method can
 * fill or empty it at any time.
 */
export class MultiHeadAttention extends Module<[hidden: tf.Tensor, context: LayerContext], tf.Tensor> {
  readonly hiddenSize: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly fusedQkv: boolean;
  readonly causal: boolean;

  constructor(options: MultiHeadAttentionOptions) {
    super();
    if (options.hiddenSize % options.numHeads !== 0) invalidArgument('numHeads', options.numHeads, `a divisor of hiddenSize ${options.hiddenSize}`);
    this.role = 'attention';
    this.hiddenSize = options.hiddenSize;
    this.numHeads = options.numHeads;
    this.headDim = options.hiddenSize / options.numHeads;
    this.fusedQkv = options.fusedQkv;
    this.causal = options.causal;
    const size = options.hiddenSize;
    if (options.fusedQkv) {
      this.registerModule('qkv', new Linear(size, 3 * size, { role: 'attention.qkv', initStd: options.initStd }));
    } else {
      this.registerModule('query', new Linear(size, size, { role: 'attention.query', initStd: options.initStd }));
      this.registerModule('key', new Linear(size, size, { role: 'attention.key', initStd: options.initStd }));
      this.registerModule('value', new Linear(size, size, { role: 'attention.value', initStd: options.initStd }));
    }
    this.registerModule('output', new Linear(size, size, { role: 'attention.output', initStd: options.outputInitStd ?? options.initStd }));
    this.registerModule('attentionDropout', new Dropout(options.attentionDropout));
    this.registerModule('outputDropout', new Dropout(options.outputDropout));
  }

  /** The prefix slot (a chain of providers), if a method filled it. */
  get prefix(): PrefixChain | undefined {
    return this.maybeChild<PrefixChain>('prefix');
  }

  /** The prefix slot, created empty on first use; methods add their providers to it. */
  prefixSlot(): PrefixChain {
    return this.prefix ?? this.attach('prefix', new PrefixChain(this.numHeads, this.headDim));
  }

  /** Removes the prefix slot when no provider is left in it, so an empty slot costs nothing. */
  releasePrefixSlot(): void {
    if (this.prefix?.isEmpty) this.removeChild('prefix');
  }

  /** Makes `provider` the slot's only provider (undefined empties the slot). */
  setPrefix(provider: PrefixProvider | undefined): void {
    this.removeChild('prefix');
    if (provider) this.prefixSlot().add('prefix', provider);
  }

  forward(hidden: tf.Tensor, context: LayerContext): tf.Tensor {
    return tf.tidy(() => {
      if (hidden.rank !== 3 || hidden.shape[2] !== this.hiddenSize) invalidArgument('hidden.shape', hidden.shape, `[batch, seq, ${this.hiddenSize}]`);
      const [batch, queryLength] = hidden.shape as [number, number, number];
      const [query, key, value] = this.projectQkv(hidden).map((x) => this.splitHeads(x));
      let keys = key!;
      let values = value!;
      const prefix = this.prefix;
      if (prefix && prefix.length > 0) {
        const rows = prefix.forward({ batchSize: batch, hidden, ...(context.attentionMask ? { attentionMask: context.attentionMask } : {}) });
        keys = tf.concat([rows.key, keys], 2);
        values = tf.concat([rows.value, values], 2);
      }
      const keyLength = keys.shape[2]!;
      const mask = additiveAttentionMask({ paddingMask: context.attentionMask, causal: this.causal, queryLength, keyLength });
      const attentionDropout = this.child<Dropout>('attentionDropout');
      const dropoutSeed = attentionDropout.nextMaskSeed();
      const attended = scaledDotProductAttention(query!, keys, values, {
        ...(mask ? { mask } : {}),
        ...(dropoutSeed === undefined ? {} : { dropoutRate: attentionDropout.rate, dropoutSeed }),
      })
        .transpose([0, 2, 1, 3])
        .reshape([batch, queryLength, this.hiddenSize]);
      return this.child<Dropout>('outputDropout').forward(this.child('output').forward(attended));
    });
  }

  /** q, k, v as [batch, seq, hidden] each; the fused projection is split like HF GPT-2's `c_attn(x).split(hidden, dim=2)`. */
  private projectQkv(hidden: tf.Tensor): tf.Tensor[] {
    if (this.fusedQkv) return tf.split(this.child('qkv').forward(hidden), 3, 2);
    return [this.child('query').forward(hidden), this.child('key').forward(hidden), this.child('value').forward(hidden)];
  }

  /** [batch, seq, hidden] -> [batch, heads, seq, headDim]. */
  private splitHeads(x: tf.Tensor): tf.Tensor {
    const [batch, length] = x.shape as [number, number, number];
    return x.reshape([batch, length, this.numHeads, this.headDim]).transpose([0, 2, 1, 3]);
  }
}
