import { adapterTensors, safetensorsFileBytes } from '../method/adapter-files';
import { canMergeEntry } from '../method/merge-transaction';
import type { AdapterMethodEntry } from '../method/adapter-entry';
import type { MethodKind } from '../method/types';
import type { Parameter } from '../nn/parameter';
import type { BaseSnapshot } from './base-snapshot';

/** What the report reads from a PeftModel (a narrow view, so the report does not depend on the class). */
export interface ReportHost {
  readonly activeAdapter: string;
  readonly baseSnapshot: BaseSnapshot | undefined;
  entries(): readonly AdapterMethodEntry[];
  allParameters(): Parameter[];
  trainableParameters(): Parameter[];
  isBaseParameter(parameter: Parameter): boolean;
  withTemporaryMerge<T>(measure: (merged: boolean) => T): T;
}

/** One method's share of the report. */
export interface MethodParameterReport {
  name: string;
  kind: MethodKind;
  packageName: string;
  adapterName: string;
  /** Entries of the parameters it trains that are trainable now. */
  trainable: number;
  /** Entries of the parameters it created (not in the base model). */
  added: number;
  /** Entries of its saved state (what it contributes to the adapter file). */
  stateEntries: number;
  mergeable: boolean;
}

/**
 * Parameter counts of a PeftModel. "Trainable" and "changed" differ, by orders of magnitude for
 * some methods, so both are reported: Lialin, Deshpande and Rumshisky, "Scaling Down to Scale Up:
 * A Guide to Parameter-Efficient Fine-Tuning", §11 (Comparison of PEFT methods) and Table 2.
 */
export interface ParameterReport {
  /** Every parameter entry: the base model's plus those the methods added (HF PEFT's `all_param`). */
  total: number;
  /** Entries of the base model at peft() time. */
  base: number;
  /** Entries the optimizer updates (the active adapter's trainable parameters). */
  trainable: number;
  /**
   * Entries whose effective value differs from the base: base entries that differ from the
   * snapshot (measured with the adapter merged when every method can merge, so a low-rank update
   * counts the whole matrix it changes) plus, when not merged, every entry of added parameters.
   * Undefined when the model was made with `trackChanges: false`.
   */
  changed: number | undefined;
  /** 100 · trainable / total. */
  trainablePercent: number;
  /** 100 · changed / total. */
  changedPercent: number | undefined;
  /** Whether `changed` was measured with the methods merged. */
  changedMeasuredMerged: boolean | undefined;
  /** Exact byte size of the adapter_model.safetensors that `save` writes (header included). */
  adapterBytes: number;
  adapterName: string;
  perMethod: MethodParameterReport[];
}

/** Counts total, trainable and changed parameters, adapter bytes, and each method's share. */
export function parameterReport(peftModel: ReportHost): ParameterReport {
  const entries = peftModel.entries();
  const all = peftModel.allParameters();
  const total = sum(all);
  const base = sum(all.filter((p) => peftModel.isBaseParameter(p)));
  const trainable = sum(peftModel.trainableParameters());
  const active = new Set(entries.flatMap((entry) => entry.applied.parameters()));
  const added = [...active].filter((p) => !peftModel.isBaseParameter(p));
  const snapshot = peftModel.baseSnapshot;
  const measured = snapshot
    ? peftModel.withTemporaryMerge((merged) => {
        const baseChanged = snapshot.parameters().reduce((count, parameter) => count + snapshot.changedEntries(parameter), 0);
        return { merged, changed: baseChanged + (merged ? 0 : sum(added)) };
      })
    : undefined;
  const perMethod = entries.map((entry): MethodParameterReport => {
    const parameters = [...new Set(entry.applied.parameters())];
    return {
      name: entry.method.name,
      kind: entry.method.kind,
      packageName: entry.method.packageName,
      adapterName: entry.adapterName,
      trainable: sum(parameters.filter((p) => p.trainable)),
      added: sum(parameters.filter((p) => !peftModel.isBaseParameter(p))),
      stateEntries: Object.values(entry.applied.state()).reduce((count, tensor) => count + tensor.size, 0),
      mergeable: canMergeEntry(entry),
    };
  });
  return {
    total,
    base,
    trainable,
    changed: measured?.changed,
    trainablePercent: percent(trainable, total),
    changedPercent: measured ? percent(measured.changed, total) : undefined,
    changedMeasuredMerged: measured?.merged,
    adapterBytes: safetensorsFileBytes(adapterTensors(entries)),
    adapterName: peftModel.activeAdapter,
    perMethod,
  };
}

function sum(parameters: readonly Parameter[]): number {
  return parameters.reduce((count, parameter) => count + parameter.size, 0);
}

function percent(part: number, whole: number): number {
  return whole === 0 ? 0 : (100 * part) / whole;
}
