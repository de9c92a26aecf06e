import { type AppliedMethod, type CalibrationContext, definePeftMethod, fromSelection, Linear, PeftError, resolveWrappableTargets, SeedStream, tf } from '@peftjs/core';
import { farConfigSchema } from './config';
import { topUnits, unitChange, unitsFor } from './select-units';
import { SplitLinear } from './split-linear';

/** `count` distinct seeded units of `size`, ascending. */
function randomUnits(size: number, count: number, random: SeedStream): number[] {
  const order = Array.from({ length: size }, (_, i) => i);
  for (let i = size - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(0, count).sort((a, b) => a - b);
}

/**
 * FAR, Freeze And Reconfigure (Vucetic, Tayaranian, Ziaeefard, Clark, Meyer, Gross, "Efficient
 * Fine-Tuning of BERT Models on the Edge", ISCAS 2022; "Scaling Down to Scale Up" §8.3):
 * 1. choose the most important output units of each feed-forward linear: prime the linears with a
 *    short fine-tuning (plain SGD on the calibration batches, in `calibrate`) and keep the `fraction`
 *    of units whose weights moved most (L1 distance), then restore the weights;
 * 2. reconfigure each linear into a frozen part and a small trainable part (`SplitLinear`), so only
 *    the chosen slice has gradients and optimizer state;
 * 3. after training, `merge()` writes the slice back: the model has its original shape and cost.
 *
 * @example
 * const tuned = peft(model, [far({ fraction: 0.1 })]);
 * await train(tuned, { data, maxSteps: 300 });   // calibrate() primes and selects before step 1
 * tuned.merge();
 */
export const farMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'far',
  packageName: '@peftjs/selective',
  kind: 'selective',
  description: 'Freeze And Reconfigure: trains the feed-forward units that moved most in a priming run, split off as small trainable slices; merges back.',
  configSchema: farConfigSchema,
  apply(model, config): AppliedMethod {
    const targets = resolveWrappableTargets(model, config.targets, { accept: (module) => module instanceof Linear, method: 'far', needs: 'Linear module', suggest: 'ffn.up or ffn.down' });
    const random = new SeedStream(config.seed);
    const layers = targets.map(({ path, module }) => {
      const linear = module as Linear;
      const units = randomUnits(linear.outFeatures, unitsFor(linear.outFeatures, config.fraction), random);
      return { path, layer: model.replaceModule(path, (current) => new SplitLinear(current as Linear, units)) };
    });
    const head = fromSelection({ name: 'far', model, subset: [], trainHead: config.trainHead, mergeable: true, allowEmpty: true });
    const sliceParameters = () => layers.flatMap(({ layer }) => [layer.trainedWeight, ...(layer.trainedBias ? [layer.trainedBias] : [])]);
    const keys = (path: string) => ({ units: `${path}.units`, weight: `${path}.trainedWeight`, bias: `${path}.trainedBias` });

    const applied: AppliedMethod = {
      name: 'far',
      claims: [...head.claims, ...layers.map(({ path }) => ({ kind: 'wrap' as const, path }))],
      parameters: () => [...sliceParameters(), ...head.parameters()],
      merge: () => layers.forEach(({ layer }) => layer.merge()),
      unmerge: () => layers.forEach(({ layer }) => layer.unmerge()),
      setEnabled(enabled) {
        head.setEnabled!(enabled);
        for (const { layer } of layers) layer.enabled = enabled;
      },
      state() {
        const state: Record<string, tf.Tensor> = { ...head.state() };
        for (const { path, layer } of layers) {
          const key = keys(path);
          state[key.units] = layer.unitsIndex;
          state[key.weight] = layer.trainedWeight.value;
          if (layer.trainedBias) state[key.bias] = layer.trainedBias.value;
        }
        return state;
      },
      load(state) {
        const expected = layers.flatMap(({ path, layer }) => [keys(path).units, keys(path).weight, ...(layer.trainedBias ? [keys(path).bias] : [])]);
        const headKeys = Object.keys(state).filter((key) => !expected.includes(key));
        const missing = expected.filter((key) => !(key in state));
        if (missing.length) throw new PeftError('checkpoint-mismatch', `far: missing keys [${missing.join(', ')}].`, { field: 'state', value: Object.keys(state), allowed: expected });
        for (const { path, layer } of layers) {
          const key = keys(path);
          const weight = state[key.weight]!;
          if (weight.shape[0] !== layer.inFeatures || weight.shape[1] !== layer.trainedWeight.shape[1]) {
            throw new PeftError('checkpoint-mismatch', `far: ${key.weight} has shape [${weight.shape.join(', ')}], expected [${layer.trainedWeight.shape.join(', ')}].`, { field: key.weight, value: weight.shape, allowed: `[${layer.trainedWeight.shape.join(', ')}]` });
          }
        }
        head.load(Object.fromEntries(headKeys.map((key) => [key, state[key]!])));
        for (const { path, layer } of layers) {
          const key = keys(path);
          layer.selectUnits(Array.from(state[key.units]!.dataSync()));
          layer.trainedWeight.assign(state[key.weight]!);
          if (layer.trainedBias) layer.trainedBias.assign(state[key.bias]!);
        }
      },
      remove() {
        for (const { path, layer } of [...layers].reverse()) {
          if (layer.merged) layer.unmerge();
          layer.trainedWeight.dispose();
          layer.trainedBias?.dispose();
          model.replaceModule(path, () => layer.base);
        }
        head.remove!();
      },
    };
    if (config.selection === 'calibrated') applied.calibrate = (context) => primeAndSelect(layers.map(({ layer }) => layer), context, config.primingSteps, config.primingLearningRate);
    return applied;
  },
});

/**
 * The priming run: plain SGD on the base weights of the split linears only (their trained slices
 * bypassed), then each layer keeps the units that moved most, and the base weights are restored.
 * SGD rather than Adam: Adam's first steps move every entry by about the learning rate, which would
 * hide the ranking the gradient magnitudes carry.
 */
function primeAndSelect(layers: readonly SplitLinear[], context: CalibrationContext, steps: number, learningRate: number): void {
  if (context.batches.length === 0) throw new PeftError('invalid-argument', 'far: calibration needs at least one batch.', { field: 'batches', value: 0, allowed: 'at least one batch' });
  const bases = layers.map((layer) => layer.base);
  const tensors = bases.flatMap((base) => [base.weight, ...(base.bias ? [base.bias] : [])]);
  const original = tensors.map((parameter) => tf.clone(parameter.value));
  for (const layer of layers) layer.enabled = false;
  try {
    for (let step = 0; step < steps; step++) {
      const batch = context.batches[step % context.batches.length]!;
      const { value, grads } = tf.variableGrads(() => context.loss(batch), tensors.map((parameter) => parameter.variable));
      tf.tidy(() => tensors.forEach((parameter) => parameter.assign(tf.sub(parameter.value, tf.mul(grads[parameter.variable.name]!, learningRate)))));
      tf.dispose([value, ...Object.values(grads)]);
    }
    const choices = layers.map((layer, index) => {
      const base = bases[index]!;
      const at = tensors.indexOf(base.weight);
      const before = { weight: original[at] as tf.Tensor2D, ...(base.bias ? { bias: original[at + 1] as tf.Tensor1D } : {}) };
      const after = { weight: base.weight.value as tf.Tensor2D, ...(base.bias ? { bias: base.bias.value as tf.Tensor1D } : {}) };
      return topUnits(unitChange(before, after), layer.units.length);
    });
    // Back to the base weights before the slices are copied from them.
    tensors.forEach((parameter, i) => parameter.assign(original[i]!));
    layers.forEach((layer, index) => layer.selectUnits(choices[index]!));
  } finally {
    tensors.forEach((parameter, i) => parameter.assign(original[i]!));
    tf.dispose(original);
    for (const layer of layers) layer.enabled = true;
  }
}

/** `peft(model, [far({ fraction: 0.1 })])` */
export const far = farMethod;
