import { Linear, type Module, notInHead, type ParameterTarget, PeftError, resolveTargets, ROLE_GROUPS, SeedStream, type TargetSelector, type TensorSelection } from '@peftjs/core';
import type { BitFitConfig } from './config';

/** The Linears whose weight matrices the non-bias baselines sample from: the blocks' linears and the pooler. */
const WEIGHT_MATRIX_ROLES = [...ROLE_GROUPS['all-linear']!, 'pooler'];

/**
 * The entries a BitFit config selects, head excluded (the head is `trainHead`'s). Structure only:
 * roles and tensor kinds, never model names. Throws when the model has no bias terms to select.
 */
export function resolveBitFitSubset(model: Module<any, any>, config: Pick<BitFitConfig, 'subset' | 'budget' | 'seed'>): TensorSelection[] {
  const biases = biasTerms(model);
  if (biases.length === 0 && config.subset !== 'random-weight-entries' && config.subset !== 'random-rows-columns') {
    throw new PeftError('selector-no-match', 'bitfit: the model has no bias terms (no `bias` parameters and no LayerNorm shifts) outside its head. Pass addZeroBiases: true to give its Linears zero biases to train.', {
      field: 'addZeroBiases',
      value: false,
      allowed: [String(true)],
    });
  }
  switch (config.subset) {
    case 'all':
      return biases.map(whole);
    case 'query-and-intermediate':
      return queryAndIntermediate(model);
    case 'all-except-query-and-intermediate':
      return subtract(biases.map(whole), queryAndIntermediate(model));
    case 'layernorm':
      return nonEmpty(parameters(model, { roles: ['norm.attention', 'norm.ffn'], tensorKinds: ['beta'] }).map(whole), 'layernorm', 'LayerNorm shifts of norm.attention / norm.ffn modules');
    case 'random-entries':
      return sampleEntries(biases.map(whole), config.budget ?? countEntries(queryAndIntermediate(model)), config.seed);
    case 'random-weight-entries':
      return sampleEntries(weightMatrices(model).map(whole), config.budget ?? countEntries(biases.map(whole)), config.seed);
    case 'random-rows-columns':
      return sampleLines(weightMatrices(model), config.budget ?? countEntries(biases.map(whole)), config.seed);
  }
}

/** Entries of a selection list. */
export function countEntries(selections: readonly TensorSelection[]): number {
  return selections.reduce((count, selection) => count + (selection.indices ? selection.indices.length : selection.parameter.size), 0);
}

/**
 * Every bias term outside the head: `bias` parameters and LayerNorm shifts (`beta`). BitFit+
 * Figure 2 writes the shifts as bias terms b_LN, and BitFit's 0.09% of BERT-base (BitFit+
 * Figure 3) counts them: without them it would be 0.076%.
 */
function biasTerms(model: Module<any, any>): ParameterTarget[] {
  return inModelOrder(model, [...parameters(model, { tensorKinds: ['bias'] }), ...parameters(model, { roles: [...ROLE_GROUPS['norm.*']!], tensorKinds: ['beta'] })]);
}

/** The items sorted by their parameter's position in the model's tree order. */
function inModelOrder<T extends { path: string }>(model: Module<any, any>, items: readonly T[]): T[] {
  const position = new Map(model.namedParameters().map(([path], index) => [path, index]));
  return [...items].sort((a, b) => position.get(a.path)! - position.get(b.path)!);
}

/**
 * b_q and b_m2 (BitFit+ §3.1 item 2, after BitFit): the query bias and the intermediate FFN bias,
 * whose output goes through GELU (BitFit+ Figure 2: h4 = GELU(W_m2·h3 + b_m2)), i.e. role
 * `ffn.up`. A fused qkv projection (GPT-2's c_attn, [q | k | v]) contributes its first third.
 */
function queryAndIntermediate(model: Module<any, any>): TensorSelection[] {
  const query = parameters(model, { roles: ['attention.query'], tensorKinds: ['bias'] }).map(whole);
  const fused = parameters(model, { roles: ['attention.qkv'], tensorKinds: ['bias'] }).map((target) => {
    const third = target.parameter.size / 3;
    return { path: target.path, parameter: target.parameter, indices: Int32Array.from({ length: third }, (_, i) => i) };
  });
  const intermediate = parameters(model, { roles: ['ffn.up'], tensorKinds: ['bias'] }).map(whole);
  return nonEmpty(inModelOrder(model, [...query, ...fused, ...intermediate]), 'query-and-intermediate', 'biases of attention.query (or attention.qkv) and ffn.up Linears');
}

function weightMatrices(model: Module<any, any>): ParameterTarget[] {
  const matrices = parameters(model, { roles: WEIGHT_MATRIX_ROLES, tensorKinds: ['weight'] }).filter((target) => target.parameter.shape.length === 2 && target.module instanceof Linear);
  if (matrices.length === 0) {
    throw new PeftError('selector-no-match', 'bitfit: the model has no Linear weight matrices (roles all-linear or pooler) to sample from.', { field: 'subset', value: 'random-weight-entries', allowed: 'models with Linear layers' });
  }
  return matrices;
}

function parameters(model: Module<any, any>, selector: TargetSelector): ParameterTarget[] {
  return resolveTargets(model, selector, { kind: 'parameter', allowEmpty: true }).filter(notInHead(model));
}

function whole(target: ParameterTarget): TensorSelection {
  return { path: target.path, parameter: target.parameter };
}

function nonEmpty(selections: TensorSelection[], subset: string, what: string): TensorSelection[] {
  if (selections.length === 0) throw new PeftError('selector-no-match', `bitfit: the subset '${subset}' found no ${what} in this model.`, { field: 'subset', value: subset, allowed: what });
  return selections;
}

/** `from` minus the entries of `remove` (whole tensors or partial ones). */
function subtract(from: readonly TensorSelection[], remove: readonly TensorSelection[]): TensorSelection[] {
  const removed = new Map(remove.map((selection) => [selection.parameter, selection]));
  const out: TensorSelection[] = [];
  for (const selection of from) {
    const other = removed.get(selection.parameter);
    if (!other) out.push(selection);
    else if (other.indices) {
      const dropped = new Set(other.indices);
      const kept = Int32Array.from({ length: selection.parameter.size }, (_, i) => i).filter((i) => !dropped.has(i));
      if (kept.length > 0) out.push({ ...selection, indices: kept });
    }
  }
  return out;
}

/**
 * `budget` entries drawn uniformly without replacement from all entries of the pool (Floyd's
 * algorithm: O(budget) time and memory, whatever the pool's size).
 */
function sampleEntries(pool: readonly TensorSelection[], budget: number, seed: number): TensorSelection[] {
  const total = countEntries(pool);
  if (budget > total) throw new PeftError('invalid-config', `bitfit: budget ${budget} exceeds the ${total} entries the subset samples from.`, { field: 'budget', value: budget, allowed: `an integer in [1, ${total}]` });
  const random = new SeedStream(seed);
  const chosen = new Set<number>();
  for (let j = total - budget; j < total; j++) {
    const t = random.nextInt(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  const sorted = Int32Array.from(chosen).sort();
  const out: TensorSelection[] = [];
  let offset = 0;
  let cursor = 0;
  for (const selection of pool) {
    const size = selection.parameter.size;
    const start = cursor;
    while (cursor < sorted.length && sorted[cursor]! < offset + size) cursor++;
    if (cursor > start) out.push({ path: selection.path, parameter: selection.parameter, indices: sorted.slice(start, cursor).map((index) => index - offset) });
    offset += size;
  }
  return out;
}

/**
 * Whole rows and columns of the weight matrices, in a seeded random order, each taken while the
 * entries covered stay within `budget` (BitFit's "rand row/col" baseline, BitFit+ §3.1 item 5). A row and a column
 * of one matrix share an entry, counted once. The result has at most `budget` entries and falls
 * short by less than the shortest line that did not fit.
 */
function sampleLines(matrices: readonly ParameterTarget[], budget: number, seed: number): TensorSelection[] {
  const lines: Array<{ matrix: number; axis: 'row' | 'column'; index: number }> = [];
  matrices.forEach((target, matrix) => {
    const [rows, columns] = target.parameter.shape as [number, number];
    for (let index = 0; index < rows; index++) lines.push({ matrix, axis: 'row', index });
    for (let index = 0; index < columns; index++) lines.push({ matrix, axis: 'column', index });
  });
  const total = matrices.reduce((count, target) => count + target.parameter.size, 0);
  if (budget > total) throw new PeftError('invalid-config', `bitfit: budget ${budget} exceeds the ${total} weight-matrix entries.`, { field: 'budget', value: budget, allowed: `an integer in [1, ${total}]` });
  const random = new SeedStream(seed);
  for (let i = lines.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  }
  const chosen = matrices.map(() => ({ rows: new Set<number>(), columns: new Set<number>() }));
  let covered = 0;
  for (const line of lines) {
    const [rows, columns] = matrices[line.matrix]!.parameter.shape as [number, number];
    const picked = chosen[line.matrix]!;
    const added = line.axis === 'row' ? columns - picked.columns.size : rows - picked.rows.size;
    if (covered + added > budget) continue;
    (line.axis === 'row' ? picked.rows : picked.columns).add(line.index);
    covered += added;
  }
  const out: TensorSelection[] = [];
  matrices.forEach((target, matrix) => {
    const { rows: pickedRows, columns: pickedColumns } = chosen[matrix]!;
    if (pickedRows.size === 0 && pickedColumns.size === 0) return;
    const [rows, columns] = target.parameter.shape as [number, number];
    const indices: number[] = [];
    for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) if (pickedRows.has(r) || pickedColumns.has(c)) indices.push(r * columns + c);
    out.push({ path: target.path, parameter: target.parameter, indices: Int32Array.from(indices) });
  });
  return out;
}
