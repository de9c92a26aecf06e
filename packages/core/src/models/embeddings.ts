import { invalidArgument } from '../errors/peft-error';
import { Dropout } from '../nn/dropout';
import { Embedding } from '../nn/embedding';
import { LayerNorm } from '../nn/layer-norm';
import { Module } from '../nn/module';
import { tf } from '../nn/tf';
import { PromptChain } from './prompt-chain';
import type { PromptProvider } from './slots';

export interface EmbeddingsOptions {
  vocabSize: number;
  hiddenSize: number;
  maxPositions: number;
  /** 0: no token-type table (GPT-2). */
  typeVocabSize: number;
  /** LayerNorm after the sum (BERT) or not (GPT-2). */
  layerNorm: boolean;
  layerNormEps: number;
  dropout: number;
  initStd: number;
}

/** What the embeddings read. */
export interface EmbeddingsInputs {
  /** int32 [batch, seq]. */
  inputIds: tf.Tensor;
  /** int32 [batch, seq]; defaults to zeros (segment A). Only for models with a token-type table. */
  tokenTypeIds?: tf.Tensor;
  /**
   * Position id of the first row. HF transformers starts positions after any prefix (past
   * key/value) rows, so the model passes the prefix length here.
   */
  positionOffset?: number;
}

/**
 * Token embeddings (role `embeddings`): BERT's word + position + token type, LayerNorm, dropout;
 * GPT-2's word + position, dropout. Children `word`, `position`, `tokenType`, `norm`, `dropout`.
 *
 * The optional `prompt` slot (see PromptProvider) prepends P soft tokens to the *word*
 * embeddings, exactly where HF PEFT's prompt tuning concatenates them (`inputs_embeds =
 * cat(prompts, word_embeddings(input_ids))` passed to the base model). So, as in HF, the
 * position and token-type embeddings and the LayerNorm apply to the whole P + seq rows: soft
 * tokens take positions 0..P−1 and token type 0, and the real tokens' positions start at P.
 * The output has P + seq rows; the model extends the attention mask with P ones.
 */
export class Embeddings extends Module<[inputs: EmbeddingsInputs], tf.Tensor> {
  readonly hiddenSize: number;
  readonly maxPositions: number;

  constructor(options: EmbeddingsOptions) {
    super();
    this.role = 'embeddings';
    this.hiddenSize = options.hiddenSize;
    this.maxPositions = options.maxPositions;
    this.registerModule('word', new Embedding(options.vocabSize, options.hiddenSize, { role: 'embedding.token', initStd: options.initStd }));
    this.registerModule('position', new Embedding(options.maxPositions, options.hiddenSize, { role: 'embedding.position', initStd: options.initStd }));
    if (options.typeVocabSize > 0) {
      this.registerModule('tokenType', new Embedding(options.typeVocabSize, options.hiddenSize, { role: 'embedding.type', initStd: options.initStd }));
    }
    if (options.layerNorm) this.registerModule('norm', new LayerNorm(options.hiddenSize, { eps: options.layerNormEps, role: 'norm.embedding' }));
    this.registerModule('dropout', new Dropout(options.dropout));
  }

  /** The prompt slot (a chain of providers), if a method filled it. */
  get prompt(): PromptChain | undefined {
    return this.maybeChild<PromptChain>('prompt');
  }

  /** The prompt slot, created empty on first use; methods add their providers to it. */
  promptSlot(): PromptChain {
    return this.prompt ?? this.attach('prompt', new PromptChain(this.hiddenSize));
  }

  /** Removes the prompt slot when no provider is left in it. */
  releasePromptSlot(): void {
    if (this.prompt?.isEmpty) this.removeChild('prompt');
  }

  /** Makes `provider` the slot's only provider (undefined empties the slot). */
  setPrompt(provider: PromptProvider | undefined): void {
    this.removeChild('prompt');
    if (provider) this.promptSlot().add('prompt', provider);
  }

  /** Number of soft tokens the prompt slot prepends (0 when empty). */
  get promptLength(): number {
    return this.prompt?.length ?? 0;
  }

  forward(inputs: EmbeddingsInputs): tf.Tensor {
    return tf.tidy(() => {
      const { inputIds, tokenTypeIds } = inputs;
      if (inputIds.rank !== 2) invalidArgument('inputIds.shape', inputIds.shape, '[batch, seq]');
      const [batch, length] = inputIds.shape as [number, number];
      let words = this.child('word').forward(inputIds);
      const prompt = this.prompt;
      let promptLength = 0;
      if (prompt && prompt.length > 0) {
        const soft = prompt.forward({ batchSize: batch, inputIds });
        promptLength = soft.shape[1]!;
        words = tf.concat([soft, words], 1);
      }
      const total = promptLength + length;
      const offset = inputs.positionOffset ?? 0;
      if (offset + total > this.maxPositions) {
        invalidArgument('sequence length', offset + total, `at most maxPositions = ${this.maxPositions} (prefix ${offset} + prompt ${promptLength} + tokens ${length})`);
      }
      const positions = this.child('position').forward(tf.range(offset, offset + total, 1, 'int32'));
      let sum = tf.add(words, positions);
      const tokenType = this.maybeChild('tokenType');
      if (tokenType) {
        let types = tokenTypeIds ?? tf.zeros([batch, length], 'int32');
        if (promptLength > 0) types = tf.concat([tf.zeros([batch, promptLength], 'int32'), types.toInt()], 1);
        sum = tf.add(sum, tokenType.forward(types));
      } else if (tokenTypeIds) {
        invalidArgument('tokenTypeIds', tokenTypeIds.shape, 'none: this model has no token-type embedding');
      }
      const norm = this.maybeChild('norm');
      return this.child('dropout').forward(norm ? norm.forward(sum) : sum);
    });
  }
}
