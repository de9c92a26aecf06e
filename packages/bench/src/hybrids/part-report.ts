import { tf, type MethodKind, type Module, type PeftModel } from '@peftjs/core';

type AnyModule = Module<any, any>;

/** One part of a composition in the parameter report. */
export interface PartParameterReport {
  /** Position in the adapter (application order). */
  index: number;
  name: string;
  packageName: string;
  kind: MethodKind;
  /** Entries of the part's parameters that the optimizer updates. */
  trainable: number;
  /**
   * Entries the part changes in the model: base entries it moved in place (BitFit), plus, for
   * parameters it added, the base entries its merge alone changes when it can merge (a low-rank
   * update counts the matrix it touches) or else every added entry (prefixes, adapters).
   * Undefined when the PeftModel tracks no changes.
   */
  changed: number | undefined;
  mergeable: boolean;
}

/**
 * The trainable and changed entries of each method of the active adapter, counted as core's
 * parameter report counts the whole (Lialin et al., "Scaling Down to Scale Up", §11: trainable and
 * changed parameters differ). Each part's merge is measured alone and undone, and every base value
 * is put back exactly from a copy, whatever the part's unmerge does.
 */
export function partParameterReport(peftModel: PeftModel<AnyModule>): PartParameterReport[] {
  const snapshot = peftModel.baseSnapshot;
  const report = peftModel.report();
  return peftModel.entries().map((entry, index) => {
    const parameters = [...new Set(entry.applied.parameters())];
    const ownBase = parameters.filter((parameter) => peftModel.isBaseParameter(parameter));
    const added = parameters.filter((parameter) => !peftModel.isBaseParameter(parameter));
    const mergeable = typeof entry.applied.merge === 'function' && typeof entry.applied.unmerge === 'function';
    const perMethod = report.perMethod[index]!;
    let changed: number | undefined;
    if (snapshot) {
      const inPlace = ownBase.reduce((count, parameter) => count + snapshot.changedEntries(parameter), 0);
      const addedEntries = added.reduce((count, parameter) => count + parameter.size, 0);
      changed = inPlace + (addedEntries === 0 ? 0 : mergeable && !peftModel.isMerged && peftModel.isEnabled ? mergedChange(peftModel, entry.applied, new Set(ownBase)) : addedEntries);
    }
    return { index, name: entry.method.name, packageName: entry.method.packageName, kind: entry.method.kind, trainable: perMethod.trainable, changed, mergeable };
  });
}

/** Base entries (outside the part's own in-place parameters) whose value this part's merge alone changes. */
function mergedChange(peftModel: PeftModel<AnyModule>, applied: { merge?(): void; unmerge?(): void }, ownBase: ReadonlySet<unknown>): number {
  const base = peftModel.baseSnapshot!.parameters().filter((parameter) => !ownBase.has(parameter));
  const copies = base.map((parameter) => tf.clone(parameter.value));
  try {
    applied.merge!();
    try {
      return base.reduce((count, parameter, i) => count + tf.tidy(() => tf.notEqual(parameter.value, copies[i]!).sum().dataSync()[0]!), 0);
    } finally {
      applied.unmerge!();
    }
  } finally {
    base.forEach((parameter, i) => parameter.assign(copies[i]!));
    copies.forEach((copy) => copy.dispose());
  }
}
