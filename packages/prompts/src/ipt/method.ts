import { PeftError, attachPromptProvider, combineApplied, definePeftMethod, fromSlotProviders, requireModelInfo, slotKey, tf, type AppliedMethod, type PeftModel } from '@peftjs/core';
import { trainModulesToSave } from '../shared/modules-to-save';
import { IptDecoder } from './autoencoder';
import { iptConfigSchema } from './config';
import { IntrinsicPrompt } from './intrinsic-prompt';

export const IPT = 'ipt';

/**
 * IPT, intrinsic prompt tuning (Qin et al., "Exploring Universal Intrinsic Task Subspace via Prompt
 * Tuning", §3.2; survey "Scaling Down to Scale Up", §6.4): the soft prompt of an unseen task is
 * P_e = dec(z) with the auto-encoder's decoder frozen, and only z ∈ R^r (r ≪ P·d) trains. The decoder
 * is saved with the adapter (frozen) so a saved IPT adapter reloads alone.
 */
export const ipt = definePeftMethod({
  specificationVersion: 'v1',
  name: IPT,
  packageName: '@peftjs/prompts',
  kind: 'additive',
  description: 'Prompt tuning in a low-dimensional intrinsic subspace through a frozen decoder (Qin et al. 2021).',
  configSchema: iptConfigSchema,
  apply(model, config, context): AppliedMethod {
    const info = requireModelInfo(context, IPT);
    const decoder = new IptDecoder({ intrinsicDim: config.intrinsicDim, decoderHiddenSize: config.decoderHiddenSize, length: config.numVirtualTokens, hiddenSize: info.hiddenSize, trainable: false });
    const provider = new IntrinsicPrompt(decoder, tf.zeros([config.intrinsicDim]));
    const target = attachPromptProvider(model, context, IPT, provider);
    const slot = fromSlotProviders(IPT, model, [target], context.adapterName);
    // Only z trains; the decoder's weights are state (saved, loaded) but never parameters to update.
    const prompt: AppliedMethod = { ...slot, parameters: () => [provider.intrinsic] };
    const head = trainModulesToSave(model, config.modulesToSave, IPT);
    return head ? combineApplied(IPT, [prompt, head]) : prompt;
  },
});

/** Puts a trained decoder (from `trainIptAutoencoder`) into an applied IPT adapter; z restarts at zero. */
export function setIptDecoder(tuned: PeftModel<any>, decoder: IptDecoder, adapterName = 'default'): void {
  const key = slotKey(adapterName, IPT);
  const provider = tuned.model.getModule('embeddings').maybeChild('prompt')?.maybeChild(key.replace(/[./]/g, '_'));
  if (!(provider instanceof IntrinsicPrompt)) {
    throw new PeftError('invalid-argument', `No IPT prompt of adapter "${adapterName}" in this model.`, { field: 'adapterName', value: adapterName, allowed: 'an adapter with the ipt method' });
  }
  const source = decoder.namedParameters();
  const target = new Map(provider.decoder.namedParameters());
  for (const [path, parameter] of source) {
    const into = target.get(path);
    if (!into || !tf.util.arraysEqual(into.shape, parameter.shape)) {
      throw new PeftError('invalid-argument', `The decoder does not fit the IPT config: ${path} is [${parameter.shape.join(', ')}], expected [${into?.shape.join(', ') ?? 'absent'}].`, { field: 'decoder', value: path, allowed: [...target.keys()] });
    }
    into.assign(parameter.value);
  }
  tf.tidy(() => provider.intrinsic.assign(tf.zerosLike(provider.intrinsic.value)));
}
