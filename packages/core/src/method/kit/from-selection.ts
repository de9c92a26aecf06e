import { PeftError } from '../../errors/peft-error';
import type { Module } from '../../nn/module';
import type { Parameter } from '../../nn/parameter';
import type { tf } from '../../nn/tf';
import type { AppliedMethod, SlotClaim } from '../types';
import { headParameters } from './head-parameters';
import { SelectedTensor, type TensorSelection } from './selected-tensor';

/** Entry counts of a selective method, with the head apart (the papers' percentages leave it out). */
export interface SelectionSummary {
  /** Entries of the chosen subset (exact, partial tensors counted by their selected entries). */
  selectedEntries: number;
  /** Entries of the task head trained in full (0 with trainHead: false). */
  headEntries: number;
  /** Entries of the tensors the optimizer holds (whole tensors, also for partial selections). */
  tensorEntries: number;
  /** Parameters with only some entries trained. */
  partialTensors: number;
}

/** The applied form of the selective methods: AppliedMethod plus what was selected. */
export interface SelectiveAppliedMethod extends AppliedMethod {
  /** The subset (head excluded), in model order. */
  readonly selections: readonly SelectedTensor[];
  /** The head parameters trained in full. */
  readonly head: readonly SelectedTensor[];
  summary(): SelectionSummary;
}

export interface SelectionOptions {
  name: string;
  model: Module<any, any>;
  subset: readonly TensorSelection[];
  trainHead: boolean;
  /** Whether the method folds into the base weights. Selecting trains the base weights in place, so merge is a no-op. */
  mergeable: boolean;
  /** Claims beyond the trained parameters (e.g. wraps of Linears given a zero bias). */
  extraClaims?: readonly SlotClaim[];
  /** An empty subset is allowed (a method whose own new parameters are the point, e.g. DiffFit's scales alone). */
  allowEmpty?: boolean;
  /** Runs after the selections are released on remove() (e.g. unwrapping added biases). */
  onRemove?: () => void;
}

/**
 * Turns a chosen subset into an applied method: unfreezes it, masks gradients of partial
 * tensors, keeps frozen entries exact after each step, swaps the base values in on disable,
 * and saves only what was trained.
 *
 * A parameter an earlier method of the same model already trains (an adapter's bias, or a head
 * another selective method took) is left to that method: two methods swapping the same base
 * tensor on disable would restore each other's values.
 */
export function fromSelection(options: SelectionOptions): SelectiveAppliedMethod {
  const { name, model } = options;
  const available = options.subset.filter((selection) => !selection.parameter.trainable && (selection.indices === undefined || selection.indices.length > 0));
  if (available.length === 0 && !(options.allowEmpty && options.subset.length === 0)) {
    throw new PeftError('composition-conflict', `${name}: every parameter of the chosen subset is already trained by an earlier method on this model.`, {
      field: 'subset',
      value: options.subset.map((selection) => selection.path),
      allowed: 'parameters no earlier method trains',
    });
  }
  const selections = available.map((selection) => new SelectedTensor(selection));
  const head = options.trainHead
    ? headParameters(model)
        .filter(({ parameter }) => !parameter.trainable)
        .map(({ path, parameter }) => new SelectedTensor({ path, parameter }))
    : [];
  const all = [...selections, ...head];
  for (const selected of all) selected.parameter.trainable = true;
  const partial = selections.filter((selected) => selected.isPartial);
  const byParameter = new Map<Parameter, SelectedTensor>(partial.map((selected) => [selected.parameter, selected]));
  const noOp = (): void => undefined;

  const applied: SelectiveAppliedMethod = {
    name,
    selections,
    head,
    claims: [...(options.extraClaims ?? []), ...all.map((selected): SlotClaim => ({ kind: 'train', path: selected.path }))],
    parameters: () => all.map((selected) => selected.parameter),
    summary: () => ({
      selectedEntries: selections.reduce((count, selected) => count + selected.entries, 0),
      headEntries: head.reduce((count, selected) => count + selected.entries, 0),
      tensorEntries: all.reduce((count, selected) => count + selected.parameter.size, 0),
      partialTensors: partial.length,
    }),
    ...(options.mergeable ? { merge: noOp, unmerge: noOp } : {}),
    setEnabled: (enabled) => all.forEach((selected) => selected.setEnabled(enabled)),
    state() {
      const state: Record<string, tf.Tensor> = {};
      for (const selected of all) Object.assign(state, selected.state());
      return state;
    },
    load(state) {
      const expected = new Set(all.flatMap((selected) => selected.stateKeys()));
      const unexpected = Object.keys(state).filter((key) => !expected.has(key));
      const missing = [...expected].filter((key) => !(key in state));
      if (unexpected.length || missing.length) {
        throw new PeftError('checkpoint-mismatch', `${name}: missing keys [${missing.join(', ')}], unexpected keys [${unexpected.join(', ')}].`, {
          field: 'state',
          value: Object.keys(state),
          allowed: [...expected],
        });
      }
      for (const selected of all) selected.load(state, name);
    },
    remove() {
      for (const selected of all) {
        selected.parameter.trainable = false;
        selected.restoreAndDispose();
      }
      options.onRemove?.();
    },
  };
  if (partial.length > 0) {
    applied.transformGradients = (gradients) => {
      const masked = new Map(gradients);
      for (const [parameter, gradient] of gradients) {
        const selected = byParameter.get(parameter);
        if (selected) masked.set(parameter, selected.maskGradient(gradient));
      }
      return masked;
    };
    applied.afterStep = () => partial.forEach((selected) => selected.restoreFrozenEntries());
  }
  return applied;
}
