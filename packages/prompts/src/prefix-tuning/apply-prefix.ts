import { PeftError, attachPrefixProviders, combineApplied, fromSlotProviders, requireModelInfo, tf, type AppliedMethod, type ApplyContext, type Module, type ModelInfo, type SlotProviderTarget } from '@peftjs/core';
import { HF_PROMPT_EMBEDDINGS, hfHeadTensors, hfPromptLearningFields, loadHfPromptFile } from '../shared/hf-prompt-files';
import { trainModulesToSave } from '../shared/modules-to-save';
import type { PrefixRows } from '../shared/prefix-rows';
import { PlainPrefix, PrefixProjection, ProjectedPrefix } from './layer-prefix';

/** What every prefix method's apply needs from its config. */
export interface PrefixSettings {
  numVirtualTokens: number;
  initStd: number;
  layers?: readonly number[] | undefined;
  seed: number;
  modulesToSave?: Parameters<typeof trainModulesToSave>[1];
  prefixProjection?: boolean;
  encoderHiddenSize?: number | undefined;
}

/** The applied form of a prefix method, with its providers (one per chosen layer, in layer order). */
export interface PrefixApplied<P extends PrefixRows> {
  applied: AppliedMethod;
  targets: Array<SlotProviderTarget<P>>;
  info: ModelInfo;
}

/** Layer `layer`'s initial key and value rows, each [P, hidden] ~ N(0, std²), from its own seeds. */
export function initialPrefixRows(settings: PrefixSettings, info: ModelInfo, layer: number): [tf.Tensor, tf.Tensor] {
  const shape = [settings.numVirtualTokens, info.hiddenSize];
  const seed = settings.seed * 1009 + layer * 2;
  return [tf.randomNormal(shape, 0, settings.initStd, 'float32', seed), tf.randomNormal(shape, 0, settings.initStd, 'float32', seed + 1)];
}

/**
 * Puts a prefix provider at every chosen layer (made by `make`, or plain / projected prefixes) and
 * builds the applied method: the providers through core's slot kit, plus the head with modulesToSave,
 * plus HF PEFT's PREFIX_TUNING files (`prompt_embeddings` [P, layers·2·d], layer-major, keys then
 * values, heads as [heads, headDim]: what HF's get_prompt views as [P, layers·2, heads, headDim]).
 */
export function applyPrefix<P extends PrefixRows>(name: string, model: Module<any, any>, settings: PrefixSettings, context: ApplyContext, make?: (layer: number, position: number, info: ModelInfo) => P): PrefixApplied<P> {
  const info = requireModelInfo(context, name);
  const layers = settings.layers ?? info.paths.attention.map((_, i) => i);
  const projection = settings.prefixProjection
    ? new PrefixProjection({ length: settings.numVirtualTokens, hiddenSize: info.hiddenSize, encoderHiddenSize: settings.encoderHiddenSize ?? info.hiddenSize, numLayers: layers.length, initStd: settings.initStd, seed: settings.seed })
    : undefined;
  const build =
    make ??
    ((layer: number, position: number, _info: ModelInfo): P => {
      if (projection) return new ProjectedPrefix(projection, position, position === 0) as unknown as P;
      const [key, value] = initialPrefixRows(settings, info, layer);
      return new PlainPrefix(key, value) as unknown as P;
    });
  const targets = attachPrefixProviders(model, context, name, (layer) => build(layer, layers.indexOf(layer), info), layers);
  const prefix = fromSlotProviders(name, model, targets, context.adapterName);
  const head = trainModulesToSave(model, settings.modulesToSave, name);
  const applied = head ? combineApplied(name, [prefix, head]) : prefix;
  const requireAllLayers = (): void => {
    if (layers.length !== info.numLayers || layers.some((layer, i) => layer !== i)) {
      throw new PeftError('not-implemented', `${name}: HF PEFT's prefix files hold every layer; this prefix has layers ${layers.join(', ')}.`, { field: 'layers', value: layers, allowed: 'all layers (leave layers unset)' });
    }
  };
  const plainRows = (): PlainPrefix[] => {
    const plain = targets.map((target) => target.provider as unknown as PrefixRows);
    if (!plain.every((provider) => provider instanceof PlainPrefix)) {
      throw new PeftError('not-implemented', `${name}: HF PEFT's prefix file loads into a plain prefix (prefixProjection: false), as HF's inference mode does.`, { field: 'prefixProjection', value: true, allowed: 'prefixProjection: false' });
    }
    return plain as PlainPrefix[];
  };
  return {
    info,
    targets,
    applied: {
      ...applied,
      exportHf: () => {
        requireAllLayers();
        const table = projection ? projection.allRows() : tf.tidy(() => tf.concat(targets.flatMap((target) => { const rows = target.provider.rows(); return [rows.key, rows.value]; }), 1));
        return {
          config: { ...hfPromptLearningFields(info, 'PREFIX_TUNING', settings.numVirtualTokens, name), encoder_hidden_size: settings.encoderHiddenSize ?? info.hiddenSize, prefix_projection: settings.prefixProjection ?? false, init_weights: null },
          tensors: { [HF_PROMPT_EMBEDDINGS]: table, ...hfHeadTensors(model, head, name) },
        };
      },
      loadHf: (tensors) => {
        requireAllLayers();
        const prefixes = plainRows();
        const size = info.hiddenSize;
        const whole = {
          shape: [settings.numVirtualTokens, layers.length * 2 * size],
          assign: (table: tf.Tensor) =>
            tf.tidy(() =>
              prefixes.forEach((prefix, i) => {
                prefix.parameter('key').assign(table.slice([0, 2 * i * size], [-1, size]));
                prefix.parameter('value').assign(table.slice([0, (2 * i + 1) * size], [-1, size]));
              }),
            ),
        };
        loadHfPromptFile(name, model, tensors, whole, head);
      },
    },
  };
}
