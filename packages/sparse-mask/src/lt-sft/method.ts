import { definePeftMethod } from '@peftjs/core';
import { randomIndices } from '../sparse-delta/select';
import { budgetOf, resolveSparseTargets, sparseMethod, topByScore } from '../shared/sparse-method';
import { ltSftConfigSchema } from './config';
import { fullPhaseChanges } from './full-phase';

/**
 * LT-SFT, Lottery-Ticket Sparse Fine-Tuning (Ansell, Ponti, Korhonen and Vulić, "Composable Sparse
 * Fine-Tuning for Cross-Lingual Transfer", §3.1, after Frankle and Carbin's lottery tickets):
 * (1) fine-tune every target in full, (2) keep the K entries that changed most, |θ1 − θ0|,
 * (3) reset to θ0 and fine-tune only those K entries: φ = θ0 + scatter(K, δ). The result is a
 * sparse delta, and sparse deltas compose by addition (their §3.2: θ0 + φ_task + φ_lang): two LT-SFT
 * methods in one adapter, or two adapters loaded onto one model, add their deltas.
 *
 * Phases (1)-(2) run in `calibrate`: `fullSteps` Adam steps (default 16) at `fullLearningRate`
 * over the trainer's calibration batches, training the targets and the modulesToSave; everything
 * is reset to θ0 afterwards, so phase (3) is the trainer's run. Budget: `fullSteps` forward and
 * backward passes with dense gradients and dense Adam moments for the targets, freed after. Before
 * calibration the K entries are random under the seed.
 *
 * @example
 * const tuned = peft(model, [ltSft({ density: 0.005, fullSteps: 100 })]);
 * await new Trainer(tuned, { data, calibrationBatches: 32 }).train();
 */
export const ltSftMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'lt-sft',
  packageName: '@peftjs/sparse-mask',
  kind: 'selective',
  description: 'LT-SFT (Ansell et al. 2022): full fine-tuning, keep the K most-changed entries, reset, train those as a sparse delta that composes by addition.',
  configSchema: ltSftConfigSchema,
  apply(model, config, context) {
    const { targets, saved } = resolveSparseTargets(model, config, 'lt-sft');
    const k = budgetOf(targets, config.density, config.allocation);
    const total = targets.reduce((n, { parameter }) => n + parameter.size, 0);
    return sparseMethod({
      name: 'lt-sft',
      model,
      context,
      targets,
      saved,
      initialIndices: randomIndices(total, k, config.seed),
      select: (calibration) => {
        const changes = fullPhaseChanges(calibration, [...targets, ...saved].map(({ parameter }) => parameter), targets.length, config.fullSteps, config.fullLearningRate);
        return topByScore(changes, k, config.allocation, config.density);
      },
    });
  },
});

/** `peft(model, [ltSft({ density: 0.005 })])` */
export const ltSft = ltSftMethod;
