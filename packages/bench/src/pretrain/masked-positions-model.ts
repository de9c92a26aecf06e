import { IGNORE_INDEX, crossEntropyLoss, extendPaddingMask, invalidArgument, tf, type BertModel, type ModelInputs, type ModelOutput, type Parameter, type TaskModel } from '@peftjs/core';

/**
 * A training view of a masked-LM BertModel that runs the MLM head only at the labelled (masked)
 * positions, as the original BERT pretraining code does (`gather_indexes` in Google's
 * `run_pretraining.py`): with 15% of positions labelled, the vocabulary projection, softmax and
 * their gradients shrink ~7×, and they dominate a small model's step on CPU.
 *
 * `forward` returns the encoder's last hidden state (also as `logits`, since the head has not run
 * yet); `taskLoss` gathers the labelled rows, applies the model's own head (tied to its word
 * embeddings) and takes the cross-entropy. The loss equals `model.taskLoss(model.forward(x), labels)`.
 * For metrics use the model itself, whose forward gives real logits.
 */
export class MaskedPositionsModel implements TaskModel {
  readonly task = 'masked-lm' as const;

  constructor(readonly model: BertModel) {
    if (model.task !== 'masked-lm') invalidArgument('model.task', model.task, ['masked-lm']);
  }

  get training(): boolean {
    return this.model.training;
  }

  train(mode = true): this {
    this.model.train(mode);
    return this;
  }

  /** The model's parameters by path, so checkpoints name them as the model does. */
  namedParameters(): Array<[string, Parameter]> {
    return this.model.namedParameters();
  }

  forward(inputs: ModelInputs): ModelOutput {
    return tf.tidy(() => {
      const mask = inputs.attentionMask ? extendPaddingMask(inputs.attentionMask, 0) : undefined;
      const embedded = this.model.embeddings.forward({ inputIds: inputs.inputIds, ...(inputs.tokenTypeIds ? { tokenTypeIds: inputs.tokenTypeIds } : {}), positionOffset: 0 });
      const { hidden } = this.model.stack.forward(embedded, mask ? { attentionMask: mask } : {});
      return { logits: hidden, lastHiddenState: hidden } as ModelOutput & tf.TensorContainerObject;
    });
  }

  taskLoss(output: ModelOutput, labels: tf.Tensor): tf.Scalar {
    return tf.tidy(() => {
      const hidden = output.lastHiddenState;
      const size = hidden.shape[hidden.rank - 1]!;
      const flatLabels = labels.reshape([-1]).dataSync();
      const positions: number[] = [];
      const targets: number[] = [];
      flatLabels.forEach((label, index) => {
        if (label === IGNORE_INDEX) return;
        positions.push(index);
        targets.push(label);
      });
      if (positions.length === 0) return tf.scalar(0);
      const rows = tf.gather(hidden.reshape([-1, size]), tf.tensor1d(positions, 'int32'));
      const table = this.model.getModule('embeddings.word').parameter('weight').value;
      const logits = this.model.child('head').forward(rows, table);
      return crossEntropyLoss(logits, tf.tensor1d(targets, 'int32'));
    });
  }
}
