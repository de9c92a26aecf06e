import type { tf } from '../nn/tf';

/** The inputs every reference model takes. Ids are int32 [batch, seq]. */
export interface ModelInputs {
  inputIds: tf.Tensor;
  /** 1 for real tokens, 0 for padding, [batch, seq]. Defaults to all ones. */
  attentionMask?: tf.Tensor;
  /** Segment ids for sentence pairs (BERT), [batch, seq]. */
  tokenTypeIds?: tf.Tensor;
  /** Return every layer's hidden states. */
  outputHiddenStates?: boolean;
}

/** What every reference model returns. Tensors belong to the caller. */
export interface ModelOutput {
  /** Head output: [batch, classes] (classification/regression) or [batch, seq, classes|vocab]. */
  logits: tf.Tensor;
  /** The last layer's hidden states [batch, seq, hidden]. */
  lastHiddenState: tf.Tensor;
  /** Embedding output followed by each layer's output, when asked for. */
  hiddenStates?: tf.Tensor[];
  /**
   * Soft-prompt rows the embeddings prepended (0 when the prompt slot is empty). lastHiddenState
   * and hiddenStates include them; token-level logits do not (they align with inputIds).
   */
  promptLength?: number;
}

/** A training/eval batch: model inputs plus labels. */
export interface Batch extends ModelInputs {
  /** int32 class ids [batch] or [batch, seq] (token tasks, LM), or float32 targets [batch] (regression). */
  labels?: tf.Tensor;
}

/** The task a model's head solves; decides its loss and metrics. */
export type TaskType = 'sequence-classification' | 'regression' | 'token-classification' | 'masked-lm' | 'causal-lm';

/** A reference model with a task head: forward plus the task's loss. */
export interface TaskModel {
  readonly task: TaskType;
  forward(inputs: ModelInputs): ModelOutput;
  /** The task loss of an output against labels (mean over examples / unmasked tokens). */
  taskLoss(output: ModelOutput, labels: tf.Tensor, attentionMask?: tf.Tensor): tf.Scalar;
}
