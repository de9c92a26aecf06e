import { Module, Parameter, PeftError, definePeftMethod, resolveTargets, tf, type AppliedMethod } from '@peftjs/core';
import { modulesToSavePart } from '../shared/modules-to-save';
import { intrinsicSaidConfigSchema } from './config';
import { Fastfood } from './fastfood';

/** Holds θ_d and λ in the module tree (attached to the model; no layer calls it). */
class SubspaceParameters extends Module<[], never> {
  constructor(thetaSize: number, scales: number) {
    super();
    this.registerParameter('theta', new Parameter(tf.zeros([thetaSize]), { kind: 'said_theta' }));
    if (scales > 0) this.registerParameter('lambda', new Parameter(tf.ones([scales]), { kind: 'said_lambda' }));
  }

  get theta(): Parameter {
    return this.parameter('theta');
  }

  get lambda(): Parameter | undefined {
    return this.maybeParameter('lambda');
  }

  forward(): never {
    throw new PeftError('invalid-argument', 'The Intrinsic SAID parameter holder is not a layer.', { field: 'forward' });
  }
}

/**
 * Intrinsic SAID (Aghajanyan, Zettlemoyer, Gupta, "Intrinsic Dimensionality Explains the
 * Effectiveness of Language Model Fine-Tuning", 2020, §2): every target tensor moves in one shared
 * d-dimensional subspace, θ_i = θ0_i + λ_i·P_i(θ_d) (Eq. 3, structure-aware; λ_i = 1 and no λ for
 * plain DID), with P_i a Fastfood projection of its own. Only θ_d (d − m entries, m the number of
 * target tensors) and λ train; θ_d starts at zero and λ at one, so the model equals the base at init.
 *
 * Mechanism: each target Parameter's `value` is overridden with θ0 + λ·P(θ_d) computed from its
 * own (frozen) variable, so every module reads the reparametrized tensor with no wrapper and no
 * second copy of the weights; gradients reach θ_d through the override. Merge writes the values
 * into the variables (exactly undone by unmerge).
 *
 * @example
 * const tuned = peft(model, [intrinsicSaid({ d: 500, modulesToSave: { roles: ['head'] } })]);
 */
export const intrinsicSaidMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'intrinsic-said',
  packageName: '@peftjs/lora',
  kind: 'reparametrization',
  description: 'Intrinsic SAID: all target tensors move in one d-dimensional subspace through Fastfood projections (Aghajanyan et al. 2020); mergeable.',
  configSchema: intrinsicSaidConfigSchema,
  apply(model, config, context): AppliedMethod {
    const targets = resolveTargets(model, config.targets, { kind: 'parameter', field: 'intrinsic-said.targets' }).filter(({ parameter }) => !parameter.isOverridden);
    if (targets.length === 0) {
      throw new PeftError('composition-conflict', 'intrinsic-said: every target tensor is already reparametrized by another method.', { field: 'intrinsic-said.targets', value: config.targets, allowed: 'tensors no other method overrides' });
    }
    const scales = config.structureAware ? targets.length : 0;
    const thetaSize = config.d - scales;
    if (thetaSize < 1) {
      throw new PeftError('invalid-config', `intrinsic-said: d = ${config.d} leaves no subspace after one λ for each of the ${scales} target tensors.`, {
        field: 'intrinsic-said.d',
        value: config.d,
        allowed: `at least ${scales + 1} (or structureAware: false)`,
      });
    }
    const holder = model.attach(`intrinsicSaid_${context.adapterName}`, new SubspaceParameters(thetaSize, scales));
    const theta = holder.theta;
    const lambda = holder.lambda;
    const projections = targets.map((_, i) => new Fastfood(thetaSize, targets[i]!.parameter.size, config.seed * 100_003 + i));
    const copies = modulesToSavePart(model, config.modulesToSave, 'intrinsic-said', context.adapterName);
    const own = (): Parameter[] => [theta, ...(lambda ? [lambda] : [])];
    let originals: tf.Tensor[] | undefined;

    const reparametrized = (i: number): tf.Tensor => {
      const { parameter } = targets[i]!;
      return tf.tidy(() => {
        let update: tf.Tensor = projections[i]!.project(theta.value);
        if (lambda) update = tf.mul(update, lambda.value.slice([i], [1]));
        return tf.add(parameter.variable, update.reshape(parameter.shape));
      });
    };
    const install = (on: boolean) => targets.forEach(({ parameter }, i) => parameter.overrideValue(on ? () => reparametrized(i) : undefined));
    install(true);

    return {
      name: 'intrinsic-said',
      claims: [...targets.map(({ path }) => ({ kind: 'train' as const, path })), { kind: 'slot' as const, path: `intrinsicSaid_${context.adapterName}` }, ...copies.claims],
      parameters: () => [...own(), ...copies.parameters()],
      merge() {
        if (originals) return;
        const values = targets.map((_, i) => reparametrized(i));
        if (!values.every((value) => tf.tidy(() => tf.all(tf.isFinite(value)).dataSync()[0] === 1))) {
          tf.dispose(values);
          throw new PeftError('merge-not-finite', 'intrinsic-said: merging would write non-finite weights; nothing was changed.', { field: 'theta' });
        }
        originals = targets.map(({ parameter }) => tf.clone(parameter.variable));
        install(false);
        targets.forEach(({ parameter }, i) => parameter.assign(values[i]!));
        tf.dispose(values);
        copies.merge!();
      },
      unmerge() {
        if (!originals) return;
        copies.unmerge!();
        targets.forEach(({ parameter }, i) => parameter.assign(originals![i]!));
        tf.dispose(originals);
        originals = undefined;
        install(true);
      },
      setEnabled(enabled) {
        install(enabled);
        copies.setEnabled!(enabled);
      },
      state: () => ({ theta: theta.value, ...(lambda ? { lambda: lambda.value } : {}), ...copies.state() }),
      load(state) {
        for (const [key, parameter] of [['theta', theta], ['lambda', lambda]] as const) {
          if (!parameter) continue;
          const tensor = state[key];
          if (!tensor || tensor.shape.join() !== parameter.shape.join()) {
            throw new PeftError('checkpoint-mismatch', `intrinsic-said: ${key} is ${tensor ? `[${tensor.shape.join(', ')}]` : 'missing'}, expected [${parameter.shape.join(', ')}].`, {
              field: key,
              value: tensor?.shape,
              allowed: `[${parameter.shape.join(', ')}]`,
            });
          }
        }
        copies.load(Object.fromEntries(Object.entries(state).filter(([key]) => key !== 'theta' && key !== 'lambda')));
        theta.assign(state.theta!);
        if (lambda) lambda.assign(state.lambda!);
      },
      remove() {
        if (originals) this.unmerge!();
        install(false);
        copies.remove!();
        model.removeChild(`intrinsicSaid_${context.adapterName}`);
        own().forEach((parameter) => parameter.dispose());
        projections.forEach((projection) => projection.dispose());
      },
    };
  },
});

/** `peft(model, [intrinsicSaid({ d: 500 })])` */
export const intrinsicSaid = intrinsicSaidMethod;
