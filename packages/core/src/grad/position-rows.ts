import { invalidArgument } from '../errors/peft-error';
import { tf } from '../nn/tf';

/** [batch·k, 2] (batch index, position) pairs for gatherND/scatterND. */
function rowIndices(positions: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, k] = positions.shape as [number, number];
    const batchIndex = tf.tile(tf.range(0, batch, 1, 'int32').reshape([batch, 1]), [1, k]);
    return tf.stack([batchIndex.reshape([-1]), positions.toInt().reshape([-1])], 1) as tf.Tensor2D;
  });
}

function checkPositions(x: tf.Tensor, positions: tf.Tensor): void {
  if (positions.rank !== 2 || positions.shape[0] !== x.shape[0]) {
    invalidArgument('positions', `shape [${positions.shape.join(', ')}]`, `an int32 tensor [batch=${x.shape[0]}, k]`);
  }
  if (x.rank < 2) invalidArgument('x', `shape [${x.shape.join(', ')}]`, 'a tensor [batch, seq, ...]');
}

/**
 * Rows of `x` [batch, seq, ...] at `positions` [batch, k] (int32): [batch, k, ...]. The gradient
 * is a scatter-add of dy into zeros of x's shape (duplicate positions add up), which avoids
 * gather's UnsortedSegmentSum gradient (slow on the cpu backend).
 */
export function gatherPositions(x: tf.Tensor, positions: tf.Tensor): tf.Tensor {
  checkPositions(x, positions);
  const rowShape = x.shape.slice(2);
  const [batch, k] = positions.shape as [number, number];
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const indices = rowIndices(positions);
    save([indices]);
    return {
      value: tf.gatherND(input, indices).reshape([batch, k, ...rowShape]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.scatterND(saved[0]!, dy.reshape([batch * k, ...rowShape]), input.shape),
    };
  });
  return op(x);
}

/**
 * `constant` [batch, seq, ...] with the rows at `positions` [batch, k] replaced by `rows`
 * [batch, k, ...]. Gradient flows into `rows` only: the rest is treated as a constant, which is
 * how token-position selective fine-tuning keeps the unselected positions off the tape (compute
 * them under `noGrad`, the selected ones under the tape, then merge). Positions must be unique
 * within each batch row.
 */
export function mergePositions(constant: tf.Tensor, rows: tf.Tensor, positions: tf.Tensor): tf.Tensor {
  checkPositions(constant, positions);
  const [batch, k] = positions.shape as [number, number];
  const rowShape = constant.shape.slice(2);
  if (!tf.util.arraysEqual(rows.shape, [batch, k, ...rowShape])) {
    invalidArgument('rows', `shape [${rows.shape.join(', ')}]`, `shape [${[batch, k, ...rowShape].join(', ')}]`);
  }
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [taped, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const indices = rowIndices(positions);
    save([indices]);
    const flatRows = taped.reshape([batch * k, ...rowShape]);
    const selected = tf.scatterND(indices, tf.onesLike(flatRows), constant.shape);
    const value = tf.add(tf.mul(constant, tf.sub(1, selected)), tf.scatterND(indices, flatRows, constant.shape));
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.gatherND(dy, saved[0]!).reshape([batch, k, ...rowShape]),
    };
  });
  return op(rows);
}
