import { PeftError, combineApplied, definePeftMethod, requireModelInfo, stateOf, loadParametersStrict, type AppliedMethod, type Module, type TransformerStack } from '@peftjs/core';
import { modulesToSavePart } from '../shared/modules-to-save';
import { lstConfigSchema } from './config';
import { LadderLayerRunner, LadderSideNetwork } from './side-network';

/** The child name the side network is attached under, on the stack. */
export const SIDE_NETWORK_CHILD = 'ladderSide';

/**
 * Ladder side-tuning: a side network of width hidden/r (Sung et al. 2022, §3) trained on the
 * frozen backbone's states, which run without a tape through the stack's layer runner slot, so
 * training memory holds the side network's activations and the tapped states only (§3.3).
 */
export const lst = definePeftMethod({
  specificationVersion: 'v1',
  name: 'lst',
  packageName: '@peftjs/adapters',
  kind: 'additive',
  description: 'Ladder side-tuning: a narrow side transformer on tapped, tape-free backbone states; memory-efficient (Sung et al., 2022).',
  configSchema: lstConfigSchema,
  apply(model, config, context): AppliedMethod {
    const info = requireModelInfo(context, 'lst');
    if (info.hiddenSize % config.reductionFactor !== 0) {
      throw new PeftError('invalid-argument', `lst: reductionFactor ${config.reductionFactor} must divide the hidden size ${info.hiddenSize}.`, { field: 'reductionFactor', value: config.reductionFactor, allowed: `a divisor of ${info.hiddenSize}` });
    }
    const sideSize = info.hiddenSize / config.reductionFactor;
    const sideHeads = config.sideHeads ?? (sideSize % info.numHeads === 0 ? info.numHeads : 1);
    if (sideSize % sideHeads !== 0) {
      throw new PeftError('invalid-argument', `lst: sideHeads ${sideHeads} must divide the side width ${sideSize}.`, { field: 'sideHeads', value: sideHeads, allowed: `a divisor of ${sideSize}` });
    }
    const stack = model.getModule<TransformerStack & Module<any, any>>(info.paths.stack);
    if (stack.maybeChild(SIDE_NETWORK_CHILD)) {
      throw new PeftError('composition-conflict', 'lst: this model already has a ladder side network (one LST per model).', { field: 'lst', value: context.adapterName, allowed: 'one lst adapter' });
    }
    const side = stack.attach(
      SIDE_NETWORK_CHILD,
      new LadderSideNetwork({
        hiddenSize: info.hiddenSize,
        sideSize,
        sideHeads,
        sideIntermediate: Math.max(1, Math.round(info.intermediateSize / config.reductionFactor)),
        numLayers: info.numLayers,
        causal: info.architecture === 'decoder',
        preLayerNorm: info.preLayerNorm,
        gateTemperature: config.gateTemperature,
        initStd: config.initStd,
      }),
    );
    side.train(stack.training);
    const previous = stack.layerRunner;
    const runner = new LadderLayerRunner(side, previous);
    stack.layerRunner = runner;
    const keyed = () => side.namedParameters(`${info.paths.stack}.${SIDE_NETWORK_CHILD}`);
    const detach = () => {
      if (stack.layerRunner === runner) stack.layerRunner = previous;
      stack.removeChild(SIDE_NETWORK_CHILD);
      side.dispose();
    };
    const sidePart: AppliedMethod = {
      name: 'lst',
      claims: [{ kind: 'slot', path: `${info.paths.stack}.layerRunner` }],
      parameters: () => keyed().map(([, parameter]) => parameter),
      setEnabled: (enabled) => {
        stack.layerRunner = enabled ? runner : previous;
      },
      state: () => stateOf(keyed()),
      load: (state) => loadParametersStrict('lst', keyed(), state),
      remove: detach,
    };
    let saved: AppliedMethod | undefined;
    try {
      saved = modulesToSavePart(model, config.modulesToSave, 'lst', false);
    } catch (error) {
      detach();
      throw error;
    }
    return saved ? combineApplied('lst', [sidePart, saved]) : sidePart;
  },
});
