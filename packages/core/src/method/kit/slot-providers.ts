import { PeftError } from '../../errors/peft-error';
import type { ModelInfo } from '../../models/model-info';
import { Embeddings } from '../../models/embeddings';
import { MultiHeadAttention } from '../../models/multi-head-attention';
import type { PrefixProvider, PromptProvider } from '../../models/slots';
import type { SlotChain } from '../../models/slot-chain';
import type { Module } from '../../nn/module';
import type { Parameter } from '../../nn/parameter';
import type { AppliedMethod, ApplyContext } from '../types';
import { AdapterWrapper } from './adapter-wrapper';
import { loadParametersStrict, stateOf } from './strict-state';

/** The key of a method's provider in a slot chain: `<adapter>/<method>`. */
export function slotKey(adapterName: string, methodName: string): string {
  return `${adapterName}/${methodName}`;
}

/** One provider a method put into a slot, with the path of the module that holds the slot. */
export interface SlotProviderTarget<P extends Module<any, any>> {
  /** Path of the module holding the slot (`encoder.layers.0.attention`, `embeddings`). */
  path: string;
  /** The slot's name on that module (`prefix`, `prompt`). */
  slot: 'prefix' | 'prompt';
  provider: P;
}

/** The model's description, or a clear error for a module tree that does not describe itself. */
export function requireModelInfo(context: ApplyContext, methodName: string): ModelInfo {
  if (context.model) return context.model;
  throw new PeftError('invalid-argument', `${methodName} needs to know the model's layers and sizes, and this model does not describe itself (implement modelInfo(), as the reference models do).`, {
    field: 'model',
    value: undefined,
    allowed: 'a model implementing DescribedModel.modelInfo()',
  });
}

/**
 * Puts one prefix provider into the `prefix` slot of each attention sublayer of `layers` (all by
 * default), made by `make(layerIndex)`. Undone on failure.
 */
export function attachPrefixProviders<P extends PrefixProvider>(model: Module<any, any>, context: ApplyContext, methodName: string, make: (layerIndex: number, attention: MultiHeadAttention) => P, layers?: readonly number[]): Array<SlotProviderTarget<P>> {
  const info = requireModelInfo(context, methodName);
  const key = slotKey(context.adapterName, methodName);
  const chosen = layers ?? info.paths.attention.map((_, i) => i);
  const targets: Array<SlotProviderTarget<P>> = [];
  try {
    for (const layerIndex of chosen) {
      const path = info.paths.attention[layerIndex];
      if (path === undefined) throw new PeftError('invalid-config', `${methodName}: layer ${layerIndex} does not exist (the model has ${info.numLayers}).`, { field: 'layers', value: layerIndex, allowed: `0..${info.numLayers - 1}` });
      // A sublayer adapter may already wrap the attention: the slot is on the module it holds.
      let holderPath = path;
      while (model.getModule(holderPath) instanceof AdapterWrapper) holderPath = `${holderPath}.base`;
      const attention = model.getModule(holderPath);
      if (!(attention instanceof MultiHeadAttention)) {
        throw new PeftError('invalid-argument', `${methodName}: ${path} is a ${attention.constructor.name}, not an attention sublayer with a prefix slot .`, { field: 'model', value: path, allowed: 'MultiHeadAttention' });
      }
      const provider = make(layerIndex, attention);
      attention.prefixSlot().add(key, provider);
      targets.push({ path: holderPath, slot: 'prefix', provider });
    }
  } catch (error) {
    detachProviders(model, targets, key);
    throw error;
  }
  return targets;
}

/** Puts a prompt provider into the embeddings' `prompt` slot. */
export function attachPromptProvider<P extends PromptProvider>(model: Module<any, any>, context: ApplyContext, methodName: string, provider: P): SlotProviderTarget<P> {
  const info = requireModelInfo(context, methodName);
  const embeddings = model.getModule(info.paths.embeddings);
  if (!(embeddings instanceof Embeddings)) {
    throw new PeftError('invalid-argument', `${methodName}: ${info.paths.embeddings} is not an Embeddings module with a prompt slot.`, { field: 'model', value: info.paths.embeddings, allowed: 'Embeddings' });
  }
  embeddings.promptSlot().add(slotKey(context.adapterName, methodName), provider);
  return { path: info.paths.embeddings, slot: 'prompt', provider };
}

/** The chain holding a target's provider. */
function chainOf(model: Module<any, any>, target: SlotProviderTarget<Module<any, any>>): SlotChain<any, any, any> {
  return model.getModule(`${target.path}.${target.slot}`) as unknown as SlotChain<any, any, any>;
}

/** Takes each provider out of its slot (releasing slots left empty) and disposes its parameters. */
export function detachProviders(model: Module<any, any>, targets: ReadonlyArray<SlotProviderTarget<Module<any, any>>>, key: string): void {
  for (const target of [...targets].reverse()) {
    const holder = model.getModule(target.path);
    const chain = holder.maybeChild(target.slot) as SlotChain<any, any, any> | undefined;
    chain?.remove(key);
    if (holder instanceof MultiHeadAttention) holder.releasePrefixSlot();
    if (holder instanceof Embeddings) holder.releasePromptSlot();
    for (const parameter of target.provider.parameters()) parameter.dispose();
  }
}

/** Providers' parameters keyed `<slot holder>.<slot>.<adapter>_<method>.<parameter path>`. */
export function keyedProviderParameters(targets: ReadonlyArray<SlotProviderTarget<Module<any, any>>>, key: string): Array<[string, Parameter]> {
  const name = key.replace(/[./]/g, '_');
  return targets.flatMap((target) => target.provider.namedParameters(`${target.path}.${target.slot}.${name}`));
}

/**
 * The applied form of a method made of slot providers (prompt and prefix methods): their
 * parameters, enable/disable in the chain, strict state, removal. Providers change the
 * sequence the model sees, so there is nothing to merge.
 */
export function fromSlotProviders(name: string, model: Module<any, any>, targets: ReadonlyArray<SlotProviderTarget<Module<any, any>>>, adapterName: string, extras: Array<readonly [string, Parameter]> = []): AppliedMethod {
  const key = slotKey(adapterName, name);
  const keyed = () => [...keyedProviderParameters(targets, key), ...extras];
  return {
    name,
    claims: targets.map((target) => ({ kind: 'wrap' as const, path: `${target.path}.${target.slot}` })),
    parameters: () => keyed().map(([, parameter]) => parameter),
    setEnabled: (enabled) => targets.forEach((target) => chainOf(model, target).setEnabled(key, enabled)),
    state: () => stateOf(keyed()),
    load: (state) => loadParametersStrict(name, keyed(), state),
    remove: () => detachProviders(model, targets, key),
  };
}
