import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelOutput, TaskModel, TaskType } from '../models/types';
import { tf } from '../nn/tf';
import { evaluate } from './evaluate';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** A model whose logits are fixed, so the metrics can be worked out by hand. Loss is a constant 2. */
function fixedModel(task: TaskType, logits: number[][][]): TaskModel {
  return {
    task,
    forward: (): ModelOutput => ({ logits: tf.tensor3d(logits), lastHiddenState: tf.zeros([1, 1, 1]) }),
    taskLoss: () => tf.scalar(2),
  };
}

// One sequence of 3 positions over 3 classes; argmax per position is 1, 2, 0.
const logits = [[[0, 5, 1], [0, 1, 5], [5, 0, 1]]];

describe('evaluate', () => {
  it('token classification: accuracy over labels other than -100 and unmasked positions', () => {
    const labels = tf.tensor2d([[1, 0, 0]], [1, 3], 'int32');
    const masked = tf.tensor2d([[1, 1, 0]], [1, 3], 'int32');
    const model = fixedModel('token-classification', logits);
    // All positions: right, wrong, right -> 2/3. Last position masked: right, wrong -> 1/2.
    expect(evaluate({ model }, [{ inputIds: tf.zeros([1, 3], 'int32'), labels }])).toEqual({ accuracy: 2 / 3, loss: 2 });
    expect(evaluate({ model }, [{ inputIds: tf.zeros([1, 3], 'int32'), labels, attentionMask: masked }]).accuracy).toBe(1 / 2);
  });

  it('causal LM: the logits at t predict the label at t + 1, plus perplexity', () => {
    // Predictions at positions 0, 1 are 1, 2; compared with labels at 1, 2 = [1, 7] -> 1/2.
    const labels = tf.tensor2d([[9, 1, 7]], [1, 3], 'int32');
    const metrics = evaluate({ model: fixedModel('causal-lm', logits) }, [{ inputIds: tf.zeros([1, 3], 'int32'), labels }]);
    expect(metrics).toEqual({ accuracy: 1 / 2, loss: 2, perplexity: Math.exp(2) });
  });

  it('requires labels', () => {
    expect(() => evaluate({ model: fixedModel('token-classification', logits) }, [{ inputIds: tf.zeros([1, 3], 'int32') }])).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });
});
