import type { Module } from '../nn/module';
import type { tf } from '../nn/tf';

/**
 * What every block and sublayer receives besides the hidden states. Built once per forward by
 * the model; methods that need more per-call data extend it structurally.
 */
export interface LayerContext {
  /**
   * 0/1 float32 mask [batch, seq] over the positions of the hidden states (prompt positions
   * included, as ones). Undefined means every position is real.
   */
  attentionMask?: tf.Tensor;
}

/**
 * A block's `attention` or `ffn` child: f(x, context) -> the output before the residual add.
 * A wrapper (sequential or parallel adapter) replaces the child, holds the original as a child
 * of its own and calls `inner.forward(x, context)`.
 */
export type Sublayer = Module<[hidden: tf.Tensor, context: LayerContext], tf.Tensor>;

/** A transformer block as the stack sees it: same signature as a sublayer, output after the residual. */
export type LayerModule = Module<[hidden: tf.Tensor, context: LayerContext], tf.Tensor>;

/** Key/value rows a prefix provider supplies to one attention sublayer. */
export interface PrefixKeyValue {
  /** [batch, heads, prefixLength, headDim] or [batch, prefixLength, hidden]. */
  key: tf.Tensor;
  /** Same shape as key. */
  value: tf.Tensor;
}

/** What a prefix provider is asked with: the attention sublayer's input, for providers that depend on it. */
export interface PrefixRequest {
  batchSize: number;
  /** The attention sublayer's input hidden states [batch, seq, hidden] (gates read them). */
  hidden: tf.Tensor;
  /** The layer's padding mask [batch, seq], when there is one. */
  attentionMask?: tf.Tensor;
}

/**
 * A provider of the attention `prefix` slot: extra key/value rows prepended to that layer's keys
 * and values, which every query may attend to (the mask is extended with ones). Prefix tuning
 * (Li & Liang, "Prefix-Tuning", §4) and its gated variants are providers. The slot itself is a
 * PrefixChain that holds several providers in order.
 */
export type PrefixProvider = Module<[request: PrefixRequest], PrefixKeyValue> & {
  /** Number of prefix rows P. */
  readonly length: number;
};

/** What a prompt provider is asked with. */
export interface PromptRequest {
  batchSize: number;
  /** The token ids the soft tokens are prepended to, int32 [batch, seq]. */
  inputIds: tf.Tensor;
}

/**
 * A provider of the embeddings `prompt` slot: soft tokens [batch, length, hidden] prepended to the
 * word embeddings (Lester et al., "The Power of Scale for Parameter-Efficient Prompt Tuning", §2).
 * Prompt tuning, P-tuning, SPoT and IPT are providers; the slot is a PromptChain.
 */
export type PromptProvider = Module<[request: PromptRequest], tf.Tensor> & {
  /** Number of soft tokens P. */
  readonly length: number;
};

/** Options a layer runner receives. */
export interface LayerRunOptions {
  /** Return the input followed by every layer's output (numLayers + 1 tensors). */
  outputHiddenStates: boolean;
}

/** What a layer runner returns. */
export interface LayerRunResult {
  /** The last layer's output. */
  hidden: tf.Tensor;
  /** The runner's input followed by each layer's output, when asked for. */
  hiddenStates?: tf.Tensor[];
}

/**
 * Runs a stack's blocks. The default is a plain loop; a method replaces it to change how
 * gradient flows through the stack (token-position selective fine-tuning) or to run the backbone
 * without a tape and tap its hidden states (ladder side tuning).
 */
export interface LayerRunner {
  run(layers: readonly LayerModule[], hidden: tf.Tensor, context: LayerContext, options: LayerRunOptions): LayerRunResult;
}
