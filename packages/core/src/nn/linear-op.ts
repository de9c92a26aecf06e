import { mayNeedGradient } from '../grad/gradient-targets';
import { sumRows } from './sum-rows';
import { tf } from './tf';

/**
 * y = x·W (+ b) over the last axis of x (leading dims flattened into one rank-2 matMul, the fast
 * path on wasm), as one custom-gradient op that keeps only what its backward needs:
 * - dx = dy·Wᵀ needs W, which its owner keeps alive anyway (a variable) or which is saved;
 * - dW = xᵀ·dy needs x, saved only when W's gradient may be asked for (`mayNeedGradient`): a frozen
 *   weight's linear keeps nothing of its input;
 * - db = Σ dy needs nothing.
 * The plain formulation (matMul + add) keeps x, W and, for the add, x·W until backward ends.
 */
export function linearOp(x: tf.Tensor, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
  const inFeatures = x.shape[x.shape.length - 1]!;
  const outFeatures = weight.shape[1]!;
  const outShape = [...x.shape.slice(0, -1), outFeatures];
  const keepInput = mayNeedGradient(weight);
  const keepWeight = !(weight instanceof tf.Variable);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, w] = args as [tf.Tensor, tf.Tensor2D];
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const b = bias === undefined ? undefined : (args[2] as tf.Tensor);
    const value = tf.tidy(() => {
      let y: tf.Tensor = tf.matMul(input.reshape([-1, inFeatures]) as tf.Tensor2D, w);
      if (b !== undefined) y = tf.add(y, b);
      return y.reshape(outShape);
    });
    save([...(keepInput ? [input] : []), ...(keepWeight ? [w] : [])]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const savedInput = keepInput ? saved[0] : undefined;
          const w2 = (keepWeight ? saved[keepInput ? 1 : 0]! : weight) as tf.Tensor2D;
          const dy2 = dy.reshape([-1, outFeatures]) as tf.Tensor2D;
          const dx = tf.matMul(dy2, w2, false, true).reshape(x.shape);
          // Without the input W is a variable nobody asked a gradient for: not on the gradient
          // path, so the engine never reads this entry (a wrong shape would be an error if it did).
          const dw = savedInput ? tf.matMul(savedInput.reshape([-1, inFeatures]) as tf.Tensor2D, dy2, true, false) : tf.scalar(0);
          return b === undefined ? [dx, dw] : [dx, dw, sumRows(dy2)];
        }),
    };
  });
  return (bias === undefined ? op(x, weight) : op(x, weight, bias)) as tf.Tensor;
}
