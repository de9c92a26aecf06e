import { tf, type Batch, type CalibrationContext, type Parameter } from '@peftjs/core';

/**
 * Σ over calibration units of the squared gradient of the task loss, per entry of each parameter:
 * the diagonal empirical Fisher (Sung et al., "Training Neural Networks with Fixed Sparse Masks",
 * §2, Eq. 2, per example) or Fu et al.'s SAM criterion (§4 step (2), |∇L(θ0)_i|², per batch).
 *
 * Budget: one forward and backward per batch ('batch') or per example ('example', up to
 * `maxExamples` examples taken from the calibration batches in order). Gradients are taken with
 * respect to the parameters' values as the model reads them now (call inside
 * `SparseDelta.withoutDeltas` for W0).
 */
export function accumulatedSquaredGradients(
  calibration: CalibrationContext,
  parameters: readonly Parameter[],
  options: { unit: 'batch' | 'example'; maxExamples?: number },
): Float32Array[] {
  const sums = parameters.map((parameter) => tf.zeros(parameter.shape));
  const variables = parameters.map((parameter) => parameter.variable);
  const accumulate = (batch: Batch) => {
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => calibration.loss(batch), variables);
      value.dispose();
      parameters.forEach((parameter, i) => {
        const next = tf.add(sums[i]!, tf.square(grads[parameter.variable.name]!));
        sums[i]!.dispose();
        sums[i] = tf.keep(next);
      });
    });
  };
  let examples = 0;
  for (const batch of calibration.batches) {
    if (options.unit === 'batch') {
      accumulate(batch);
      continue;
    }
    const size = batch.inputIds.shape[0]!;
    for (let row = 0; row < size && examples < (options.maxExamples ?? Infinity); row++, examples++) {
      const single = sliceBatch(batch, row);
      accumulate(single);
      disposeBatchTensors(single);
    }
  }
  const result = sums.map((sum) => Float32Array.from(sum.dataSync() as Float32Array));
  tf.dispose(sums);
  return result;
}

/** Row `row` of every batch tensor (labels included), as a batch of one. */
export function sliceBatch(batch: Batch, row: number): Batch {
  const sliced: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(batch)) {
    sliced[key] = value instanceof tf.Tensor ? tf.slice(value, [row], [1]) : value;
  }
  return sliced as unknown as Batch;
}

function disposeBatchTensors(batch: Batch): void {
  for (const value of Object.values(batch)) if (value instanceof tf.Tensor) value.dispose();
}
