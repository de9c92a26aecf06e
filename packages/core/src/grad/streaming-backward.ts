import { tf } from '../nn/tf';

/**
 * A backward pass that frees as it goes. tfjs' own `engine.gradients` keeps, until the whole
 * backward ends, every tensor the tape saved and the gradient of every intermediate tensor, so
 * the peak of a training step is all saved activations plus all activation gradients at once.
 * Walking the same filtered tape in the same order with the same gradient functions, this one
 * disposes:
 * - a tensor's accumulated gradient once its producing node has run (every consumer of a tensor
 *   comes after its producer on the tape, so all of them have run by then);
 * - a gradient added into an accumulated sum, once added;
 * - a node's saved tensors once the node has run, and at the start the saved tensors of the nodes
 *   that do not connect xs to y.
 * Only tensors made during this backward are disposed, and a gradient object stored for several
 * tensors (a gradient function may pass dy through unchanged) only when the last holder is done.
 * The gradients themselves are the same values: same nodes, same order, same additions.
 *
 * It runs only in the plain case (not nested inside another gradient computation, where the outer
 * tape still needs the saved tensors); the caller uses tfjs' own implementation otherwise.
 */

/** The fields of a tfjs tape node this reads (tfjs-core 4.x `TapeNode`). */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient: ((dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>) | null;
  saved?: tf.Tensor[];
}

/** The engine internals used, all present in tfjs-core 4.x. */
export interface EngineInternals {
  state: { gradientDepth: number; activeTape: TapeNode[] | null };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T>(nameOrFn: string | (() => T), fn?: () => T): T;
  nextTensorId(): number;
}

/** Whether this engine has what `streamingGradients` needs. */
export function supportsStreamingBackward(engine: unknown): engine is EngineInternals {
  const e = engine as Partial<EngineInternals> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.state === 'object' &&
    e.state !== null &&
    typeof e.state.gradientDepth === 'number' &&
    typeof e.startTape === 'function' &&
    typeof e.endTape === 'function' &&
    typeof e.scopedRun === 'function' &&
    typeof e.tidy === 'function' &&
    typeof e.nextTensorId === 'function'
  );
}

/**
 * The nodes of `tape` on a path from some x to y, with their inputs pruned to those that depend on
 * an x (tfjs-core's `getFilteredNodesXToY`, same rules).
 */
function nodesFromXsToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((input) => fromX.has(input.id))) {
      for (const output of node.outputs) fromX.add(output.id);
      nodesFromX.add(node.id);
    }
  }
  const leadToY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((output) => leadToY.has(output.id))) {
      for (const input of Object.values(node.inputs)) leadToY.add(input.id);
      nodesToY.add(node.id);
    }
  }
  const filtered: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, input] of Object.entries(node.inputs)) if (fromX.has(input.id)) inputs[name] = input;
    filtered.push({ ...node, inputs });
  }
  return filtered;
}

/** Disposes what a node saved (shape records put there in place of tensors have nothing to free). */
function disposeSaved(node: TapeNode): void {
  for (const tensor of node.saved ?? []) if (tensor instanceof tf.Tensor) tensor.dispose();
}

/** engine.gradients(f, xs, dy, allowNoGradients), freeing as it goes (see the file comment). */
export function streamingGradients(
  engine: EngineInternals,
  f: () => tf.Tensor,
  xs: tf.Tensor[],
  dy: tf.Tensor | undefined,
  allowNoGradients = false,
): { value: tf.Tensor; grads: tf.Tensor[] } {
  if (xs.length === 0) throw new Error('gradients() received an empty list of xs.');
  if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
  const y = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy('forward', f),
  );
  if (!(y instanceof tf.Tensor)) throw new Error('The result y returned by f() must be a tensor.');
  const tape = engine.state.activeTape ?? [];
  const filtered = nodesFromXsToY(tape, xs, y);
  if (!allowNoGradients && filtered.length === 0 && xs.length > 0) {
    throw new Error('Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.');
  }
  return engine.tidy('backward', () => {
    const firstBackwardId = engine.nextTensorId();
    const kept = new Set<number>(xs.map((x) => x.id));
    const onPath = new Set(filtered.map((node) => node.id));
    for (const node of tape) if (!onPath.has(node.id)) disposeSaved(node);

    const gradients = new Map<number, tf.Tensor>();
    const holders = new Map<tf.Tensor, number>();
    const release = (tensor: tf.Tensor): void => {
      const count = (holders.get(tensor) ?? 0) - 1;
      if (count > 0) {
        holders.set(tensor, count);
        return;
      }
      holders.delete(tensor);
      if (tensor.id >= firstBackwardId && tensor !== dy) tensor.dispose();
    };
    const store = (id: number, tensor: tf.Tensor): void => {
      const previous = gradients.get(id);
      gradients.set(id, tensor);
      holders.set(tensor, (holders.get(tensor) ?? 0) + 1);
      if (previous !== undefined) release(previous);
    };
    const discard = (tensor: tf.Tensor): void => {
      if (!holders.has(tensor) && tensor.id >= firstBackwardId && tensor !== dy) tensor.dispose();
    };

    store(y.id, dy ?? tf.ones(y.shape));
    for (let i = filtered.length - 1; i >= 0; i--) {
      const node = filtered[i]!;
      const dys = node.outputs.map((output) => gradients.get(output.id) ?? null);
      if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const inputGradients = node.gradient(dys);
      for (const [inputName, x] of Object.entries(node.inputs)) {
        if (!(inputName in inputGradients)) {
          throw new Error(`Cannot backprop through input ${inputName}. Available gradients found: ${Object.keys(inputGradients)}.`);
        }
        const dx = engine.tidy(() => inputGradients[inputName]!());
        if (dx.dtype !== 'float32') {
          throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${inputName} must have 'float32' dtype, but has '${dx.dtype}'`);
        }
        if (!tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${inputName}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
        }
        const current = gradients.get(x.id);
        if (current === undefined) {
          store(x.id, dx);
        } else {
          store(x.id, tf.add(current, dx));
          discard(dx);
        }
      }
      // Every consumer of this node's outputs has run: their gradients are no longer needed.
      for (const output of node.outputs) {
        if (kept.has(output.id)) continue;
        const gradient = gradients.get(output.id);
        if (gradient === undefined) continue;
        gradients.delete(output.id);
        release(gradient);
      }
      disposeSaved(node);
    }
    const grads = xs.map((x) => gradients.get(x.id)) as tf.Tensor[];
    for (const node of tape) disposeSaved(node);
    engine.state.activeTape = null;
    return { value: y, grads };
  });
}
