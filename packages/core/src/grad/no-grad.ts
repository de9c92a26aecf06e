import { tf } from '../nn/tf';
import { untaped, view } from './untaped';

function collectTensors(container: unknown, into: tf.Tensor[]): void {
  if (container instanceof tf.Tensor) {
    into.push(container);
  } else if (Array.isArray(container)) {
    for (const item of container) collectTensors(item, into);
  } else if (typeof container === 'object' && container !== null) {
    for (const item of Object.values(container)) collectTensors(item, into);
  }
}

function replaceTensors(container: unknown, replacement: Map<tf.Tensor, tf.Tensor>): unknown {
  if (container instanceof tf.Tensor) return replacement.get(container) ?? container;
  if (Array.isArray(container)) return container.map((item) => replaceTensors(item, replacement));
  if (typeof container === 'object' && container !== null) {
    return Object.fromEntries(Object.entries(container).map(([key, item]) => [key, replaceTensors(item, replacement)]));
  }
  return container;
}

/**
 * Runs `fn` without recording anything on the gradient tape, and returns its result as
 * constants: no gradient flows into `fn`'s inputs or the variables it reads through this result,
 * and none of `fn`'s intermediates are kept for a backward pass (they are disposed when `fn`
 * returns, as in `tf.tidy`). The result may be a tensor or any array/object of tensors; it is
 * tracked by the caller's tidy scope like any op output.
 *
 * Use it for the frozen part of a model inside a recording scope (`tf.variableGrads`,
 * `tf.grads`): without it the tape keeps every activation of that part until backward ends.
 * `fn` must not compute gradients itself (the tape is off inside it).
 *
 * ```ts
 * const { value, grads } = tf.variableGrads(() => {
 *   const features = noGrad(() => frozenBackbone.forward(inputs));
 *   return head.loss(features, labels);
 * });
 * ```
 */
export function noGrad<T extends tf.TensorContainer>(fn: () => T): T {
  let result: T | undefined;
  const kept: tf.Tensor[] = [];
  const views = new Map<tf.Tensor, tf.Tensor>();
  // Pass 1: run fn inside a custom-gradient forward (tape off) and keep a view of each output;
  // the forward's own tidy then frees every intermediate.
  untaped(() => {
    result = fn();
    const outputs: tf.Tensor[] = [];
    collectTensors(result, outputs);
    for (const output of outputs) {
      if (views.has(output)) continue;
      const keptView = tf.keep(view(output));
      kept.push(keptView);
      views.set(output, keptView);
    }
    return tf.zeros([]);
  }).dispose();
  // Pass 2: re-issue each kept view as an op output, so the caller's scope tracks it as usual.
  const outputs = new Map<tf.Tensor, tf.Tensor>();
  for (const [output, keptView] of views) outputs.set(output, untaped(() => view(keptView)));
  tf.dispose(kept);
  return replaceTensors(result, outputs) as T;
}
