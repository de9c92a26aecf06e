import { PeftError } from '../../errors/peft-error';
import { PrefixChain } from '../../models/prefix-chain';
import { PromptChain } from '../../models/prompt-chain';
import type { SlotChain } from '../../models/slot-chain';
import { ContributionGate } from '../../nn/contribution-gate';
import type { Module } from '../../nn/module';
import type { Parameter } from '../../nn/parameter';
import { definePeftMethod } from '../define-method';
import { AdapterWrapper } from '../kit/adapter-wrapper';
import { slotKey } from '../kit/slot-providers';
import { loadParametersStrict, stateOf } from '../kit/strict-state';
import type { AppliedMethod } from '../types';
import { gateConfigSchema } from './config';

/** One gate the method placed: where, on which method's contribution, and how to take it off. */
interface PlacedGate {
  key: string;
  gate: ContributionGate;
  remove(): void;
}

/**
 * Gates on other methods' contributions, as UniPELT does (Mao et al., "UniPELT: A Unified Framework
 * for Parameter-Efficient Language Model Tuning", §3.2, Figure 1): for each listed method of the
 * same adapter, every contribution it makes (an AdapterWrapper's added output, a prefix's keys and
 * values, a prompt's rows) is multiplied by G = σ(W_G·x + b_G) computed from that layer's input.
 * The gates train with the methods. A gated contribution depends on the input, so it cannot be
 * merged into the weights.
 *
 * @example
 * peft(model, [lora({ targets: { roles: ['attention.query', 'attention.value'] } }), prefixTuning({ length: 10 }), gate({ methods: ['lora', 'prefix-tuning'] })]);
 */
export const gateMethod = definePeftMethod({
  specificationVersion: 'v1',
  name: 'gate',
  packageName: '@peftjs/core',
  kind: 'hybrid',
  description: "Learned gates on other methods' contributions (UniPELT, Mao et al. 2022).",
  configSchema: gateConfigSchema,
  apply(model, config, context): AppliedMethod {
    const earlier = new Set((context.earlier ?? []).map((applied) => applied.name));
    const missing = config.methods.filter((name) => !earlier.has(name));
    if (missing.length) {
      throw new PeftError('invalid-config', `gate: method(s) ${missing.join(', ')} are not applied before the gate in adapter "${context.adapterName}".`, {
        field: 'methods',
        value: missing,
        allowed: [...earlier],
      });
    }
    const placed: PlacedGate[] = [];
    try {
      for (const methodName of config.methods) {
        const before = placed.length;
        placeGates(model, context.adapterName, methodName, placed);
        if (placed.length === before) {
          throw new PeftError('selector-no-match', `gate: method "${methodName}" has no gateable contribution (no AdapterWrapper adapter or slot provider of adapter "${context.adapterName}").`, {
            field: 'methods',
            value: methodName,
            allowed: 'methods built on AdapterWrapper or the prefix/prompt slots',
          });
        }
      }
    } catch (error) {
      for (const gate of placed.reverse()) gate.remove();
      throw error;
    }
    const keyed = (): Array<[string, Parameter]> => placed.flatMap(({ key, gate }) => gate.namedParameters(key));
    return {
      name: 'gate',
      claims: [],
      parameters: () => keyed().map(([, parameter]) => parameter),
      setEnabled: () => undefined,
      state: () => stateOf(keyed()),
      load: (state) => loadParametersStrict('gate', keyed(), state),
      remove: () => [...placed].reverse().forEach((gate) => gate.remove()),
    };
  },
});

/** `gate({ methods: ['lora', 'prefix-tuning'] })` */
export const gate = gateMethod;

function placeGates(model: Module<any, any>, adapterName: string, methodName: string, placed: PlacedGate[]): void {
  const chainKey = slotKey(adapterName, methodName);
  for (const [path, module] of model.namedModules()) {
    if (module instanceof AdapterWrapper && module.hasAdapter(adapterName) && module.adapter(adapterName).methodName === methodName) {
      const gate = new ContributionGate(module.gateInputSize, 1);
      module.setGate(adapterName, gate);
      placed.push({ key: `${path}.${methodName}Gate`, gate, remove: () => module.setGate(adapterName, undefined) });
    } else if ((module instanceof PrefixChain || module instanceof PromptChain) && module.provider(chainKey)) {
      const inFeatures = module instanceof PrefixChain ? module.numHeads * module.headDim : module.hiddenSize;
      const gate = new ContributionGate(inFeatures, module instanceof PrefixChain ? 2 : 1);
      const chain: SlotChain<any, any, any> = module;
      chain.setGate(chainKey, gate);
      placed.push({ key: `${path}.${methodName}Gate`, gate, remove: () => chain.setGate(chainKey, undefined) });
    }
  }
}
