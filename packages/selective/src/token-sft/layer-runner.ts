import {
  MultiHeadAttention,
  PeftError,
  SeedStream,
  TransformerBlock,
  additiveAttentionMask,
  detach,
  gatherPositions,
  mergePositions,
  noGrad,
  sequentialLayerRunner,
  tf,
  type LayerContext,
  type LayerModule,
  type LayerRunner,
  type LayerRunOptions,
  type LayerRunResult,
  type Module,
} from '@peftjs/core';

/** What the runner saw on its last run, read by the pooling wrapper of the same forward. */
export interface TokenSftStepState {
  /** The positions selected per sequence on the last training run, min(k, real tokens) each (undefined after an eval run). */
  positions: number[][] | undefined;
  /** The 0/1 real-token mask [batch][seq] of the last run (undefined: every position is real). */
  mask: number[][] | undefined;
}

export interface TokenSftRunnerOptions {
  /** Positions per sequence that carry gradient (position 0 included). */
  k: number;
  seed: number;
  /** True while the model trains: the runner selects positions only then, and is the plain loop otherwise. */
  isTraining: () => boolean;
}

/**
 * The positions of one training step, one row per sequence: position 0 ([CLS]) always, the others
 * drawn uniformly without replacement among the sequence's real (mask 1) positions, sorted. Each
 * sequence selects min(k, its real tokens) positions (§2: "for each input sequence, we select k
 * random positions"), so a short sequence selects all of its tokens without capping the others;
 * padding is never selected.
 */
export function selectPositions(mask: readonly (readonly number[])[], k: number, random: SeedStream): number[][] {
  return mask.map((row, b) => {
    if (!(row[0]! > 0)) {
      throw new PeftError('invalid-argument', `token-sft: position 0 ([CLS]) of sequence ${b} is padding.`, { field: 'attentionMask', value: b, allowed: 'a mask whose position 0 is 1' });
    }
    const positions = row.flatMap((value, position) => (value > 0 && position > 0 ? [position] : []));
    const count = Math.min(k, positions.length + 1);
    // Partial Fisher–Yates: the first count − 1 entries become a uniform draw without replacement.
    for (let i = 0; i < count - 1; i++) {
      const j = i + random.nextInt(positions.length - i);
      [positions[i], positions[j]] = [positions[j]!, positions[i]!];
    }
    return [0, ...positions.slice(0, count - 1).sort((a, c) => a - c)];
  });
}

/** The selected positions laid out as a rectangle [batch][width] for the batched taped pass. */
export interface PositionSlots {
  /** Each row's selected positions, then (rows with fewer than width) distinct padding positions as filler. */
  slots: number[][];
  /** 1 where a slot holds a selected position, 0 where it holds filler. */
  selected: number[][];
}

/**
 * Pads the per-sequence selections to the batch's widest one (≤ k) with distinct padding
 * positions of the same sequence. A row that selects fewer than width positions has fewer real
 * tokens than width, so it has enough padding positions. Filler rows are computed exactly like
 * the others (the merged hidden states stay the plain loop's) and are padding, so attention masks
 * them out as keys and values; the runner also blocks the gradient that reaches them through its
 * outputs, so they carry none.
 */
export function positionSlots(positions: readonly (readonly number[])[], mask: readonly (readonly number[])[] | undefined): PositionSlots {
  const width = Math.max(...positions.map((row) => row.length));
  const slots = positions.map((row, b) => {
    // Without a mask every sequence has the same length, so every row selects width positions.
    const filler = (mask?.[b] ?? []).flatMap((value, position) => (value > 0 ? [] : [position])).slice(0, width - row.length);
    return [...row, ...filler];
  });
  return { slots, selected: positions.map((row) => Array.from({ length: width }, (_, slot) => (slot < row.length ? 1 : 0))) };
}

/** rows [batch, width, hidden] unchanged; the gradient through the filler slots (selected 0) is zero. */
function withoutFillerGradient(rows: tf.Tensor, selected: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const weights = selected.toFloat().expandDims(2);
    save([weights]);
    return { value: input.clone(), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, saved[0]!) };
  });
  return op(rows);
}

/** q/k/v projections [batch, rows, hidden]. */
function project(attention: MultiHeadAttention, x: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (attention.fusedQkv) {
    const [q, k, v] = tf.split(attention.child('qkv').forward(x), 3, 2);
    return [q!, k!, v!];
  }
  return [attention.child('query').forward(x), attention.child('key').forward(x), attention.child('value').forward(x)];
}

function splitHeads(attention: MultiHeadAttention, x: tf.Tensor): tf.Tensor {
  const [batch, length] = x.shape as [number, number, number];
  return x.reshape([batch, length, attention.numHeads, attention.headDim]).transpose([0, 2, 1, 3]);
}

/**
 * Attention of the selected queries: `selected` [batch, k, hidden] is taped, `constant`
 * [batch, seq, hidden] holds every position's input as a constant. Keys and values of the selected
 * positions are taped, those of the other positions are constants (computed without tape), so the
 * tape keeps k query rows and one [batch, seq, hidden] key and value tensor per layer.
 */
function selectedAttention(attention: MultiHeadAttention, selected: tf.Tensor, constant: tf.Tensor, positions: tf.Tensor, context: LayerContext): tf.Tensor {
  const [batch, k, size] = selected.shape as [number, number, number];
  const seq = constant.shape[1]!;
  const [constantKeys, constantValues] = noGrad(() => project(attention, constant).slice(1) as [tf.Tensor, tf.Tensor]);
  const [query, key, value] = project(attention, selected);
  const keys = splitHeads(attention, mergePositions(constantKeys, key, positions));
  const values = splitHeads(attention, mergePositions(constantValues, value, positions));
  let scores = tf.div(tf.matMul(splitHeads(attention, query), keys, false, true), Math.sqrt(attention.headDim));
  const mask = additiveAttentionMask({ paddingMask: context.attentionMask, causal: false, queryLength: seq, keyLength: seq });
  if (mask) scores = tf.add(scores, mask);
  const probabilities = attention.child('attentionDropout').forward(tf.softmax(scores));
  const attended = tf.matMul(probabilities, values).transpose([0, 2, 1, 3]).reshape([batch, k, size]);
  return attention.child('outputDropout').forward(attention.child('output').forward(attended));
}

/** The block's output at the selected rows, taped through those rows only. */
function selectedBlockRows(block: TransformerBlock, selected: tf.Tensor, constant: tf.Tensor, positions: tf.Tensor, context: LayerContext): tf.Tensor {
  return tf.tidy(() => {
    const attention = block.attention as MultiHeadAttention;
    const attentionNorm = block.child('attentionNorm');
    const ffnNorm = block.child('ffnNorm');
    if (block.preLayerNorm) {
      const normalizedConstant = noGrad(() => attentionNorm.forward(constant));
      const afterAttention = tf.add(selected, selectedAttention(attention, attentionNorm.forward(selected), normalizedConstant, positions, context));
      return tf.add(afterAttention, block.ffn.forward(ffnNorm.forward(afterAttention), context));
    }
    const afterAttention = attentionNorm.forward(tf.add(selected, selectedAttention(attention, selected, constant, positions, context)));
    return ffnNorm.forward(tf.add(afterAttention, block.ffn.forward(afterAttention, context)));
  });
}

function checkBlock(layer: LayerModule, index: number): TransformerBlock {
  const block = layer as Module<any, any>;
  const attention = block instanceof TransformerBlock ? block.maybeChild('attention') : undefined;
  if (!(block instanceof TransformerBlock) || !(attention instanceof MultiHeadAttention) || attention.causal || attention.prefix) {
    throw new PeftError('not-implemented', `token-sft: layer ${index} is not a bidirectional TransformerBlock with a plain MultiHeadAttention (no causal mask, no prefix, no wrapper around attention).`, {
      field: `layers.${index}`,
      value: block.constructor.name,
      allowed: 'TransformerBlock whose attention is a non-causal MultiHeadAttention without prefix',
    });
  }
  return block;
}

/**
 * The layer runner of token-position selective fine-tuning (Simoulin et al., "Memory-Efficient
 * Selective Fine-Tuning", §2, Figure 1, Eq. 2–4). In training, each layer runs twice:
 * once over all positions without tape (the constants h_Ḡ and the keys/values of the unselected
 * positions), and once over the k selected rows on the tape, whose queries attend to every
 * position. Gradient reaches the parameters only through the selected rows, so only their
 * activations are kept for backward. In eval it is the plain loop.
 *
 * The returned hidden states equal the plain loop's (every row's value is computed exactly);
 * gradient flows into the selected rows only. The unselected keys and values are constants as a
 * whole (the paper caches only h_G, Eq. 4), so W_k and W_v get no gradient through them either:
 * this is not the same as only detaching the unselected rows of each layer's output.
 * With dropout on, the untaped pass and the taped rows draw separate dropout masks.
 * The taped rows of a batch form one [batch, width] block (width = the most positions a sequence
 * selects, ≤ k): a shorter sequence's extra slots hold its padding positions and carry no gradient.
 * Supports bidirectional (BERT-style, post- or pre-LN) blocks; a causal model, a prefix slot or a
 * wrapper around a block's attention is a 'not-implemented' error at the first training forward.
 */
export class TokenSftLayerRunner implements LayerRunner {
  readonly state: TokenSftStepState = { positions: undefined, mask: undefined };
  private readonly random: SeedStream;

  constructor(private readonly options: TokenSftRunnerOptions) {
    this.random = new SeedStream(options.seed);
  }

  run(layers: readonly LayerModule[], hidden: tf.Tensor, context: LayerContext, options: LayerRunOptions): LayerRunResult {
    const [batch, seq] = hidden.shape as [number, number, number];
    this.state.mask = context.attentionMask ? (context.attentionMask.arraySync() as number[][]) : undefined;
    this.state.positions = undefined;
    if (!this.options.isTraining()) return sequentialLayerRunner.run(layers, hidden, context, options);
    const blocks = layers.map(checkBlock);
    const mask = this.state.mask ?? Array.from({ length: batch }, () => new Array<number>(seq).fill(1));
    const chosen = selectPositions(mask, this.options.k, this.random);
    this.state.positions = chosen;
    const { slots, selected: slotSelected } = positionSlots(chosen, mask);
    const width = slots[0]!.length;
    const positions = tf.tensor2d(slots, [batch, width], 'int32');
    const hasFiller = slotSelected.some((row) => row.includes(0));
    const fillerMask = hasFiller ? tf.tensor2d(slotSelected, [batch, width], 'int32') : undefined;
    const merged = (constantRows: tf.Tensor, rows: tf.Tensor): tf.Tensor => mergePositions(constantRows, fillerMask ? withoutFillerGradient(rows, fillerMask) : rows, positions);
    let selected = gatherPositions(hidden, positions);
    let constant = detach(hidden);
    const hiddenStates = options.outputHiddenStates ? [hidden] : undefined;
    for (const block of blocks) {
      const input = constant;
      const nextConstant = noGrad(() => block.forward(input, context));
      selected = selectedBlockRows(block, selected, input, positions, context);
      constant = nextConstant;
      // Nothing on the tape reads the previous constants: free them now unless they are returned.
      if (hiddenStates) hiddenStates.push(merged(constant, selected));
      else input.dispose();
    }
    const last = hiddenStates?.at(-1) ?? merged(constant, selected);
    return hiddenStates ? { hidden: last, hiddenStates } : { hidden: last };
  }
}
