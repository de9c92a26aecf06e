import { tf } from '../nn/tf';
import { streamingGradients, supportsStreamingBackward } from './streaming-backward';

/**
 * What the running gradient computation was asked for, known while its forward records.
 * `tf.grads`, `tf.variableGrads` and `tf.valueAndGrads` all go through the engine's
 * `gradients(f, xs)`; wrapping it gives the xs before `f` runs, and wrapping the engine's
 * `addTapeNode` follows which recorded tensors depend on them. With that:
 * - an op can ask whether a tensor it reads will get a gradient (`mayNeedGradient`): a frozen
 *   weight's linear then keeps nothing for the weight's gradient, without trusting flags a
 *   method may not have set (a priming run asks for gradients of weights frozen for training);
 * - a recorded op none of whose inputs depends on an x (a frozen embedding, the frozen layers
 *   before the first trained one) is not kept on the tape: tfjs would drop it from the backward
 *   anyway (`getFilteredNodesXToY`), but only after keeping its saved tensors to the end;
 * - a recorded op whose gradient reads only the shapes of what it saved (Reshape, Add, Sub, Slice,
 *   Concat, ExpandDims in tfjs' gradient registry) keeps those shapes instead of the tensors: a
 *   residual add or a head split otherwise keeps activation-sized inputs alive to the end;
 * - the backward frees as it goes (`streamingGradients`).
 * All of it only for a plain gradient computation (not nested in another); otherwise tfjs' own
 * behaviour. `setStreamingBackward(false)` turns the last two off, to compare with tfjs as shipped.
 *
 * The engine lives on globalThis and so does this record; the wrappers are installed once, by
 * `trackGradientTargets()` (initBackend calls it, and every op that asks calls it too).
 */
interface GradientCall {
  /** Ids of the tensors that are xs or computed from one, so far in the forward. */
  reachable: Set<number>;
}

interface TargetRecord {
  /** One entry per running `gradients` call, innermost last. */
  stack: GradientCall[];
  installed: boolean;
  streaming: boolean;
}

function record(): TargetRecord {
  const key = Symbol.for('peftjs.grad.gradientTargets');
  const store = globalThis as unknown as Record<symbol, TargetRecord | undefined>;
  store[key] ??= { stack: [], installed: false, streaming: false };
  return store[key];
}

/**
 * Chooses how every gradient computation runs from now on: with peftjs' tape pruning and
 * streaming backward (true, the default), or as tfjs ships it, keeping every recorded op's saved
 * tensors and every gradient until the backward ends (false, to compare). Same gradients either way.
 */
export function setStreamingBackward(enabled: boolean): void {
  trackGradientTargets();
  record().streaming = enabled;
}

/** Whether gradient computations prune the tape and stream the backward (see `setStreamingBackward`). */
export function streamingBackwardEnabled(): boolean {
  return record().installed && record().streaming;
}

type GradientsFunction = (f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor, allowNoGradients?: boolean) => { value: tf.Tensor; grads: tf.Tensor[] };
type AddTapeNodeFunction = (name: string, inputs: Record<string, tf.Tensor>, outputs: tf.Tensor[], gradient: unknown, saved: tf.Tensor[], attrs: unknown) => void;

interface EngineWithState {
  gradients: GradientsFunction;
  addTapeNode: AddTapeNodeFunction;
  state?: { gradientDepth?: number };
}

/**
 * Kernels whose registered gradient (tfjs-core 4.x) reads nothing of its saved tensors but their
 * shape/rank/size: their saved inputs can be replaced by a record of those.
 */
const SHAPE_ONLY_GRADIENTS = ['Reshape', 'Add', 'Sub', 'Slice', 'Concat', 'ExpandDims'] as const;

/** What a shape-only gradient reads of a saved tensor. */
function shapeRecord(tensor: tf.Tensor): tf.Tensor {
  return { shape: tensor.shape.slice(), rank: tensor.rank, size: tensor.size, dtype: tensor.dtype } as unknown as tf.Tensor;
}

/** How many gradient scopes are recording now (the engine's own counter; 1 if unreadable). */
function gradientDepth(): number {
  return (tf.engine() as unknown as EngineWithState).state?.gradientDepth ?? 1;
}

/** The running plain gradient call, if exactly one is running and nothing else records. */
function plainCall(): GradientCall | undefined {
  const { stack } = record();
  return stack.length === 1 && gradientDepth() === 1 ? stack[0] : undefined;
}

/** Wraps the engine's `gradients` and `addTapeNode` (idempotent; see the file comment). */
export function trackGradientTargets(): void {
  const state = record();
  if (state.installed) return;
  const engine = tf.engine() as unknown as EngineWithState;
  const originalGradients = engine.gradients;
  const originalAddTapeNode = engine.addTapeNode;
  // The stock gradient configs: a gradient registered later in their place may read values.
  const shapeOnly = new Map(SHAPE_ONLY_GRADIENTS.map((name) => [name as string, tf.getGradient(name)]));
  engine.gradients = function (this: unknown, f, xs, dy, allowNoGradients) {
    state.stack.push({ reachable: new Set(xs.map((x) => x.id)) });
    try {
      // Nested inside another gradient computation, the outer tape still needs what this one would free.
      if (state.streaming && supportsStreamingBackward(this) && this.state.gradientDepth === 0) return streamingGradients(this, f, xs, dy, allowNoGradients);
      return originalGradients.call(this, f, xs, dy, allowNoGradients);
    } finally {
      state.stack.pop();
    }
  };
  engine.addTapeNode = function (this: unknown, name, inputs, outputs, gradient, saved, attrs) {
    if (state.streaming && state.stack.length > 0) {
      const inputList = Object.values(inputs);
      // Every running call follows reachability (an inner call's backward is recorded for the outer one).
      for (const call of state.stack) if (inputList.some((input) => call.reachable.has(input.id))) for (const output of outputs) call.reachable.add(output.id);
      const call = plainCall();
      if (call !== undefined) {
        if (!inputList.some((input) => call.reachable.has(input.id))) {
          // No input depends on an x: no gradient will pass through this op.
          for (const tensor of saved ?? []) tensor.dispose();
          return;
        }
        const stock = shapeOnly.get(name);
        if (stock !== undefined && saved !== undefined && saved.length > 0 && tf.getGradient(name) === stock) {
          const shapes = saved.map(shapeRecord);
          for (const tensor of saved) tensor.dispose();
          originalAddTapeNode.call(this, name, inputs, outputs, gradient, shapes, attrs);
          return;
        }
      }
    }
    originalAddTapeNode.call(this, name, inputs, outputs, gradient, saved, attrs);
  };
  state.installed = true;
}

/**
 * Whether the gradient computation now recording may ask for the gradient of `tensor` through an
 * op that reads it. In a plain gradient computation: whether `tensor` is an x or was computed from
 * one. Otherwise (nested computations, or tracking installed mid-way): false only for a variable
 * (a leaf) no running `gradients` call asked for, and true when unsure, so callers keep what the
 * plain formulation keeps.
 */
export function mayNeedGradient(tensor: tf.Tensor): boolean {
  trackGradientTargets();
  const { stack } = record();
  if (stack.length === 0) return gradientDepth() > 0;
  const call = plainCall();
  // A computed tensor (a weight built from parameters: PHM products, masked or averaged experts) is
  // kept conservatively: reachability misses some of them, and only frozen variables are worth pruning.
  if (call !== undefined) return !(tensor instanceof tf.Variable) || call.reachable.has(tensor.id);
  if (!(tensor instanceof tf.Variable)) return true;
  return stack.some((entry) => entry.reachable.has(tensor.id));
}
