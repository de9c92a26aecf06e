import { PeftError, describeValue } from '../errors/peft-error';
import type { ModelInputs, ModelOutput } from '../models/types';
import type { Module } from '../nn/module';
import { tf } from '../nn/tf';

/** The name that runs an example on the base model, all adapters off (HF PEFT's `__base__`). */
export const BASE_ADAPTER_NAME = '__base__';

/** What a mixed-batch forward needs from a PeftModel. */
export interface MixedBatchHost {
  readonly model: Module<any, any> & { forward(inputs: ModelInputs): ModelOutput };
  readonly activeAdapter: string;
  readonly isEnabled: boolean;
  readonly isMerged: boolean;
  adapterNames(): string[];
  setAdapter(name: string): void;
  enable(): void;
  disable(): void;
}

/**
 * Inference over a batch whose examples name their adapter (HF PEFT's `adapter_names=`): the
 * examples are grouped by adapter, each group runs with that adapter active (or every adapter off
 * for `__base__`), and the rows are put back in the batch's order. The active adapter and the
 * enabled state are restored afterwards, also on error. Eval mode only: dropout and training-time
 * behaviour would differ between groups.
 */
export function forwardMixedBatch(host: MixedBatchHost, inputs: ModelInputs, adapterNames: readonly string[]): ModelOutput {
  const batchSize = inputs.inputIds.shape[0]!;
  if (adapterNames.length !== batchSize) {
    throw new PeftError('invalid-argument', `adapterNames has ${adapterNames.length} entries for a batch of ${batchSize} examples.`, { field: 'adapterNames', value: adapterNames.length, allowed: `${batchSize} names, one per example` });
  }
  const known = new Set([...host.adapterNames(), BASE_ADAPTER_NAME]);
  const unknown = adapterNames.filter((name) => !known.has(name));
  if (unknown.length) {
    throw new PeftError('invalid-argument', `adapterNames: unknown adapter ${describeValue(unknown[0])}.`, { field: 'adapterNames', value: unknown[0], allowed: [...known] });
  }
  if (host.model.training) {
    throw new PeftError('invalid-argument', 'A mixed-adapter batch is for inference: call model.eval() first.', { field: 'model.training', value: true, allowed: [String(false)] });
  }
  if (host.isMerged) {
    throw new PeftError('invalid-argument', 'A mixed-adapter batch needs unmerged adapters: unmerge() first.', { field: 'merged', value: true, allowed: [String(false)] });
  }
  if (inputs.outputHiddenStates) {
    throw new PeftError('not-implemented', 'A mixed-adapter batch returns logits and lastHiddenState only.', { field: 'outputHiddenStates', value: true, allowed: [String(false)] });
  }

  const groups = new Map<string, number[]>();
  adapterNames.forEach((name, row) => groups.set(name, [...(groups.get(name) ?? []), row]));
  const previous = { adapter: host.activeAdapter, enabled: host.isEnabled };
  const outputs: ModelOutput[] = [];
  const rows: number[] = [];
  try {
    for (const [name, members] of groups) {
      if (name === BASE_ADAPTER_NAME) host.disable();
      else {
        host.setAdapter(name);
        host.enable();
      }
      const indices = tf.tensor1d(members, 'int32');
      const groupInputs: ModelInputs = {
        inputIds: tf.gather(inputs.inputIds, indices),
        ...(inputs.attentionMask ? { attentionMask: tf.gather(inputs.attentionMask, indices) } : {}),
        ...(inputs.tokenTypeIds ? { tokenTypeIds: tf.gather(inputs.tokenTypeIds, indices) } : {}),
      };
      outputs.push(host.model.forward(groupInputs));
      tf.dispose([indices, groupInputs.inputIds, groupInputs.attentionMask ?? [], groupInputs.tokenTypeIds ?? []]);
      rows.push(...members);
    }
  } finally {
    host.setAdapter(previous.adapter);
    if (previous.enabled) host.enable();
    else host.disable();
  }
  // rows[i] is the batch row of the i-th concatenated output; invert to read them back in order.
  const inverse = new Int32Array(batchSize);
  rows.forEach((row, position) => (inverse[row] = position));
  return tf.tidy(() => {
    const order = tf.tensor1d(inverse, 'int32');
    const collect = (pick: (output: ModelOutput) => tf.Tensor) => tf.gather(tf.concat(outputs.map(pick), 0), order);
    const result = { logits: collect((output) => output.logits), lastHiddenState: collect((output) => output.lastHiddenState) };
    tf.dispose(outputs.flatMap((output) => [output.logits, output.lastHiddenState]));
    return result;
  });
}
