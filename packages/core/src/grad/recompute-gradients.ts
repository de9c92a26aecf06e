import { invalidArgument } from '../errors/peft-error';
import type { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { globalSeeds } from '../util/random';
import { noGrad } from './no-grad';

/** Something a gradient is asked for: a peftjs Parameter or a bare tf.Variable. */
export type GradientTarget = Parameter | tf.Variable;

/** One link of the chain: hidden -> hidden, reading the parameters it lists. */
export interface RecomputeStage {
  /**
   * The stage's forward. It runs twice (once without tape, once under tape during backward), so
   * it must compute the same thing both times: randomness must come from the global seed stream
   * (as `Dropout` does), which is rewound for the second run.
   */
  forward(hidden: tf.Tensor): tf.Tensor;
  /** Every parameter the forward reads; frozen ones are skipped (no gradient is asked for them). */
  parameters: readonly GradientTarget[];
}

export interface RecomputeGradientsOptions {
  /** The first stage's input. Not disposed; no gradient is computed for it. */
  input: tf.Tensor;
  stages: readonly RecomputeStage[];
  /** The head: last stage's output -> scalar loss. Runs once, under tape. */
  loss(hidden: tf.Tensor): tf.Scalar;
  /** Parameters the loss head reads (tied weights may also appear in a stage: gradients add up). */
  lossParameters?: readonly GradientTarget[];
}

export interface RecomputeGradientsResult {
  /** The loss, owned by the caller (tracked by an enclosing tidy like any op output). */
  loss: tf.Scalar;
  /** One gradient per trainable target that reaches the loss, owned by the caller (tracked like the loss). */
  gradients: Map<GradientTarget, tf.Tensor>;
}

function variableOf(target: GradientTarget): tf.Variable {
  return target instanceof tf.Variable ? target : target.variable;
}

function isTrainable(target: GradientTarget): boolean {
  return target.trainable;
}

function trainableTargets(targets: readonly GradientTarget[] | undefined): GradientTarget[] {
  return [...new Set((targets ?? []).filter(isTrainable))];
}

function accumulate(into: Map<GradientTarget, tf.Tensor>, target: GradientTarget, gradient: tf.Tensor): void {
  const previous = into.get(target);
  if (!previous) {
    into.set(target, gradient);
    return;
  }
  into.set(target, tf.add(previous, gradient));
  previous.dispose();
  gradient.dispose();
}

/**
 * Vector-Jacobian product of one stage under a fresh tape: gradients of `forward` w.r.t. its
 * input (when asked for) and its trainable parameters, given the gradient `dy` of its output.
 * Unconnected targets get no entry.
 */
function stageBackward(
  forward: () => tf.Tensor,
  input: tf.Tensor | undefined,
  targets: readonly GradientTarget[],
  dy: tf.Tensor | undefined,
): { value: tf.Tensor; inputGradient: tf.Tensor | undefined; parameterGradients: Array<[GradientTarget, tf.Tensor]> } {
  const xs = [...(input ? [input] : []), ...targets.map(variableOf)];
  // allowNoGradients: a frozen path or an unused parameter is not an error here.
  const { value, grads } = tf.engine().gradients(forward, xs, dy, true);
  const inputGradient = input ? grads[0] : undefined;
  const offset = input ? 1 : 0;
  const parameterGradients: Array<[GradientTarget, tf.Tensor]> = [];
  targets.forEach((target, index) => {
    const gradient = grads[index + offset];
    if (gradient) parameterGradients.push([target, gradient]);
  });
  return { value, inputGradient, parameterGradients };
}

/**
 * Gradient checkpointing with the public tfjs API ("recompute on backward"; Chen et al.,
 * "Training Deep Nets with Sublinear Memory Cost", 2016, §3): a forward without tape that keeps
 * only each stage's input, then a backward from the last stage to the first that reruns one
 * stage at a time under a tape and takes its vector-Jacobian product with `tf.engine().gradients`.
 * Gradients equal those of the plain tape over the whole chain; peak memory holds the stage
 * boundaries plus one stage's tape instead of every stage's tape, for about one extra forward.
 *
 * This is a step-level function, not a custom-gradient op (tfjs cannot take gradients inside a
 * custom gradient). Stages before the first one with a trainable parameter get no backward.
 *
 * ```ts
 * const { loss, gradients } = recomputeGradients({
 *   input: embeddings,
 *   stages: blocks.map((block) => ({ forward: (h) => block.forward(h, context), parameters: block.trainableParameters() })),
 *   loss: (h) => head.loss(h, labels),
 *   lossParameters: head.trainableParameters(),
 * });
 * ```
 */
export function recomputeGradients(options: RecomputeGradientsOptions): RecomputeGradientsResult {
  const { input, stages } = options;
  if (!(input instanceof tf.Tensor)) invalidArgument('input', input, 'a tf.Tensor');
  if (!Array.isArray(stages)) invalidArgument('stages', stages, 'an array of { forward, parameters }');
  const stageTargets = stages.map((stage) => trainableTargets(stage.parameters));
  const lossTargets = trainableTargets(options.lossParameters);
  const firstTrainable = stageTargets.findIndex((targets) => targets.length > 0);
  if (firstTrainable < 0 && lossTargets.length === 0) {
    invalidArgument('parameters', 0, 'at least one trainable parameter in a stage or in lossParameters');
  }

  const seeds = globalSeeds();
  const boundaries: tf.Tensor[] = [input];
  const gradients = new Map<GradientTarget, tf.Tensor>();
  let dy: tf.Tensor | undefined;
  let seedStateAfterForward = seeds.getState();
  try {
    // Forward without tape, keeping each stage's input and the seed state it started from.
    const seedStates: number[] = [];
    for (const stage of stages) {
      const hidden = boundaries[boundaries.length - 1]!;
      seedStates.push(seeds.getState());
      boundaries.push(tf.tidy(() => noGrad(() => stage.forward(hidden))));
    }
    seedStateAfterForward = seeds.getState();

    const last = boundaries[boundaries.length - 1]!;
    // tf.engine().gradients runs its forward and backward in tidy scopes of its own and leaves
    // only the value and the gradients in the caller's scope, so no tidy is needed around it.
    const head = stageBackward(() => options.loss(last), firstTrainable >= 0 ? last : undefined, lossTargets, undefined);
    for (const [target, gradient] of head.parameterGradients) accumulate(gradients, target, gradient);
    dy = head.inputGradient;
    if (head.value.rank !== 0) {
      head.value.dispose();
      invalidArgument('loss', `a tensor of shape [${head.value.shape.join(', ')}]`, 'a function returning a scalar');
    }
    if (stages.length > 0) last.dispose();

    // An undefined dy means the chain is cut above (a detached stage): nothing below gets gradient.
    for (let index = stages.length - 1; index >= Math.max(firstTrainable, 0) && dy; index -= 1) {
      const stage = stages[index]!;
      const hidden = boundaries[index]!;
      const upstream: tf.Tensor = dy;
      seeds.setState(seedStates[index]!);
      const result = stageBackward(() => stage.forward(hidden), index > firstTrainable ? hidden : undefined, stageTargets[index]!, upstream);
      result.value.dispose();
      for (const [target, gradient] of result.parameterGradients) accumulate(gradients, target, gradient);
      dy = result.inputGradient;
      upstream.dispose();
      if (index > 0) hidden.dispose();
    }
    return { loss: head.value as tf.Scalar, gradients };
  } catch (error) {
    tf.dispose([...gradients.values()]);
    throw error;
  } finally {
    dy?.dispose();
    tf.dispose(boundaries.slice(1));
    seeds.setState(seedStateAfterForward);
  }
}
