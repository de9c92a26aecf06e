import { PeftError } from '../errors/peft-error';
import type { Module } from '../nn/module';
import { tf } from '../nn/tf';

// The loaders walk models of any forward signature, so the module type parameters are erased.
 
type AnyModule = Module<any, any>;

/**
 * How one of our modules is stored in a Hugging Face checkpoint:
 * - `linear`: torch.nn.Linear, weight [out, in] (ours is [in, out]: transposed both ways);
 * - `conv1d`: GPT-2's Conv1D, weight already [in, out];
 * - `embedding`: weight [count, dim];
 * - `layer-norm`: our gamma/beta are HF's weight/bias (older checkpoints: gamma/beta);
 * - `bias`: a bare `bias` parameter of the module, stored under the HF name itself.
 */
export type HfModuleKind = 'linear' | 'conv1d' | 'embedding' | 'layer-norm' | 'bias';

/**
 * What happens when a checkpoint lacks a module's tensors: `backbone` is an error; `pooler` and
 * `head` are initialised and reported (as HF's "newly initialized" warning does).
 */
export type HfModuleGroup = 'backbone' | 'pooler' | 'head';

/**
 * One row of an architecture's name table. `module` is our dotted module path, `hf` the HF module
 * name; `{layer}` in both stands for a block index. `hf` is relative to the backbone prefix
 * (`bert.`, `transformer.`) unless `absolute` (task heads such as `classifier`, `cls.predictions`).
 */
export interface HfModuleRule {
  module: string;
  hf: string;
  kind: HfModuleKind;
  group: HfModuleGroup;
  absolute?: boolean;
}

/** One tensor's correspondence after expanding the rules for a model. */
export interface HfTensorMapping {
  /** The full HF key (prefix included). */
  hfKey: string;
  /** Older names of the same tensor that are accepted on load (LayerNorm gamma/beta). */
  legacyKeys: readonly string[];
  /** Our parameter path. */
  parameterPath: string;
  /** `transpose` when HF stores the matrix as [out, in]. */
  transpose: boolean;
  group: HfModuleGroup;
}

/** Everything a loader needs to know about one architecture besides its table. */
export interface HfCheckpointSpec {
  rules: readonly HfModuleRule[];
  /** The backbone prefix task models use (`bert.`, `transformer.`); checkpoints of the bare backbone lack it. */
  prefix: string;
  /**
   * Keys that are copies of a mapped tensor (tied weights): accepted when they equal it, used
   * in its place when it is absent. Relative to the root, `{prefix}` expands to the prefix.
   */
  tied: ReadonlyArray<{ hfKey: string; sameAs: string }>;
  /** Non-parameters stored in checkpoints (buffers): skipped by name. Matched against keys without prefix. */
  ignored: readonly RegExp[];
  /** Weights of heads the asked-for task does not use: skipped and reported, as HF does. */
  otherHeads: readonly RegExp[];
}

/** Expands `{layer}` rows for `layerCount` blocks. */
export function expandHfRules(rules: readonly HfModuleRule[], layerCount: number): HfModuleRule[] {
  const out: HfModuleRule[] = [];
  for (const rule of rules) {
    if (!rule.module.includes('{layer}')) {
      out.push(rule);
      continue;
    }
    for (let layer = 0; layer < layerCount; layer++) {
      out.push({ ...rule, module: rule.module.replaceAll('{layer}', String(layer)), hf: rule.hf.replaceAll('{layer}', String(layer)) });
    }
  }
  return out;
}

/**
 * The HF module name of one of our module paths under a rule table, or undefined when the path
 * has no HF counterpart (a slot such as `embeddings.prompt`, or a wrapper's inner module).
 */
export function hfModuleNameFor(rules: readonly HfModuleRule[], path: string, prefix: string): string | undefined {
  for (const rule of rules) {
    if (rule.kind === 'bias') continue; // names a tensor, not a module
    const pattern = new RegExp(`^${escapeRegExp(rule.module).replaceAll('\\{layer\\}', '(\\d+)')}$`);
    const match = pattern.exec(path);
    if (!match) continue;
    const name = match[1] === undefined ? rule.hf : rule.hf.replaceAll('{layer}', match[1]);
    return rule.absolute ? name : `${prefix}${name}`;
  }
  return undefined;
}

/**
 * The tensor mappings of a model whose modules exist at the expanded rules' paths. Modules a model
 * does not have (no pooler, another head) are skipped; a Linear without bias maps no bias.
 */
export function hfTensorMappings(model: AnyModule, rules: readonly HfModuleRule[], prefix: string): HfTensorMapping[] {
  const mappings: HfTensorMapping[] = [];
  for (const rule of rules) {
    const module = maybeModule(model, rule.module);
    if (!module) continue;
    const hf = rule.absolute ? rule.hf : `${prefix}${rule.hf}`;
    const add = (parameter: string, hfKey: string, transpose = false, legacyKeys: string[] = []) => {
      if (module.maybeParameter(parameter)) {
        mappings.push({ hfKey, legacyKeys, parameterPath: `${rule.module}.${parameter}`, transpose, group: rule.group });
      }
    };
    switch (rule.kind) {
      case 'linear':
      case 'conv1d':
        add('weight', `${hf}.weight`, rule.kind === 'linear');
        add('bias', `${hf}.bias`);
        break;
      case 'embedding':
        add('weight', `${hf}.weight`);
        break;
      case 'layer-norm':
        add('gamma', `${hf}.weight`, false, [`${hf}.gamma`]);
        add('beta', `${hf}.bias`, false, [`${hf}.beta`]);
        break;
      case 'bias':
        add('bias', hf);
        break;
    }
  }
  return mappings;
}

/** What loading a checkpoint did besides assigning the mapped tensors. */
export interface HfLoadInfo {
  /** Our parameter paths left at their initial values because the checkpoint lacks them (heads, pooler). */
  newlyInitialized: string[];
  /** Checkpoint keys of heads this task does not use (e.g. `cls.*` when fine-tuning a classifier). */
  unusedWeights: string[];
  /** Checkpoint keys skipped as non-parameters (buffers such as `position_ids`, `attn.bias`). */
  ignoredKeys: string[];
  /** Checkpoint keys accepted as copies of tied weights. */
  tiedKeys: string[];
  /** The backbone prefix the checkpoint used ('' for a bare backbone). */
  prefix: string;
}

/** What the HF checkpoint loaders return. */
export interface HfLoadResult<M> {
  model: M;
  /** Heads initialised because the checkpoint lacks them, skipped keys, the prefix found. */
  info: HfLoadInfo;
  /** The checkpoint's config.json as read. */
  hfConfig: Record<string, unknown>;
}

export interface AssignHfTensorsOptions {
  /**
   * A head or pooler tensor whose shape differs (another label count) is left initialised and
   * listed in `newlyInitialized` instead of failing: HF's `ignore_mismatched_sizes=True`.
   * Backbone mismatches are always an error.
   */
  reinitializeMismatchedHeads?: boolean;
}

/**
 * Assigns checkpoint tensors to a model's parameters, all or nothing: every problem is collected
 * first (missing backbone tensors, keys nothing maps, shape mismatches, tied copies that differ)
 * and reported together as one PeftError('checkpoint-mismatch'); only a clean checkpoint is
 * assigned. `tensors` stays owned by the caller.
 */
export function assignHfTensors(
  model: AnyModule,
  tensors: Readonly<Record<string, tf.Tensor>>,
  spec: HfCheckpointSpec,
  layerCount: number,
  options: AssignHfTensorsOptions = {},
): HfLoadInfo {
  const prefix = detectPrefix(Object.keys(tensors), spec);
  const mappings = hfTensorMappings(model, expandHfRules(spec.rules, layerCount), prefix);
  const tied = spec.tied.map(({ hfKey, sameAs }) => ({ hfKey: hfKey.replaceAll('{prefix}', prefix), sameAs: sameAs.replaceAll('{prefix}', prefix) }));

  const used = new Set<string>();
  const missing: string[] = [];
  const mismatched: string[] = [];
  const newlyInitialized: string[] = [];
  const tiedKeys: string[] = [];
  const assignments: Array<{ parameterPath: string; source: tf.Tensor; transpose: boolean }> = [];

  for (const mapping of mappings) {
    const candidates = [mapping.hfKey, ...mapping.legacyKeys, ...tied.filter((t) => t.sameAs === mapping.hfKey).map((t) => t.hfKey)];
    const key = candidates.find((candidate) => tensors[candidate] !== undefined);
    if (key === undefined) {
      if (mapping.group === 'backbone') missing.push(mapping.hfKey);
      else newlyInitialized.push(mapping.parameterPath);
      continue;
    }
    used.add(key);
    const source = tensors[key]!;
    const target = model.getParameter(mapping.parameterPath).shape;
    const expected = mapping.transpose ? [...target].reverse() : target;
    if (!tf.util.arraysEqual(source.shape, expected)) {
      if (options.reinitializeMismatchedHeads && mapping.group !== 'backbone') {
        newlyInitialized.push(mapping.parameterPath);
        continue;
      }
      mismatched.push(`${key}: checkpoint [${source.shape.join(', ')}], model needs [${expected.join(', ')}] (${mapping.parameterPath})`);
      continue;
    }
    assignments.push({ parameterPath: mapping.parameterPath, source, transpose: mapping.transpose });
  }

  for (const { hfKey, sameAs } of tied) {
    const copy = tensors[hfKey];
    const original = tensors[sameAs];
    if (!copy || used.has(hfKey)) continue;
    if (original && (!tf.util.arraysEqual(copy.shape, original.shape) || !tensorsEqual(copy, original))) {
      mismatched.push(`${hfKey}: must equal the tied ${sameAs}, but differs (untied weights cannot be represented)`);
    }
    used.add(hfKey);
    tiedKeys.push(hfKey);
  }

  const ignoredKeys: string[] = [];
  const unusedWeights: string[] = [];
  const unexpected: string[] = [];
  for (const key of Object.keys(tensors)) {
    if (used.has(key)) continue;
    const relative = key.startsWith(prefix) ? key.slice(prefix.length) : key;
    if (spec.ignored.some((pattern) => pattern.test(relative))) ignoredKeys.push(key);
    else if (spec.otherHeads.some((pattern) => pattern.test(key))) unusedWeights.push(key);
    else unexpected.push(key);
  }

  if (missing.length > 0 || unexpected.length > 0 || mismatched.length > 0) {
    const parts = [
      missing.length > 0 ? `missing keys: ${missing.join(', ')}` : '',
      unexpected.length > 0 ? `unexpected keys: ${unexpected.join(', ')}` : '',
      mismatched.length > 0 ? `shape mismatches: ${mismatched.join('; ')}` : '',
    ].filter(Boolean);
    throw new PeftError('checkpoint-mismatch', `The checkpoint does not fit the model (nothing was loaded). ${parts.join('. ')}.`, {
      field: 'checkpoint',
      value: { missing, unexpected, mismatched },
      allowed: 'exactly the tensors the model has, with matching shapes',
    });
  }

  for (const { parameterPath, source, transpose } of assignments) {
    tf.tidy(() => {
      const value = transpose ? tf.transpose(source) : source;
      model.getParameter(parameterPath).assign(value.dtype === 'float32' ? value : value.toFloat());
    });
  }
  return { newlyInitialized, unusedWeights, ignoredKeys, tiedKeys, prefix };
}

/**
 * Our parameters as HF checkpoint tensors (transposed back to [out, in] where HF expects it).
 * The returned tensors are new; the caller disposes them.
 */
export function collectHfTensors(model: AnyModule, rules: readonly HfModuleRule[], prefix: string, layerCount: number): Record<string, tf.Tensor> {
  const out: Array<[string, tf.Tensor]> = [];
  for (const mapping of hfTensorMappings(model, expandHfRules(rules, layerCount), prefix)) {
    const value = model.getParameter(mapping.parameterPath).value;
    out.push([mapping.hfKey, mapping.transpose ? tf.transpose(value) : value.clone()]);
  }
  return Object.fromEntries(out);
}

/** A checkpoint of the task model has keys under the prefix; one of the bare backbone does not. */
function detectPrefix(keys: readonly string[], spec: HfCheckpointSpec): string {
  return keys.some((key) => key.startsWith(spec.prefix)) ? spec.prefix : '';
}

function tensorsEqual(a: tf.Tensor, b: tf.Tensor): boolean {
  const left = a.dataSync();
  const right = b.dataSync();
  for (let i = 0; i < left.length; i++) if (left[i] !== right[i]) return false;
  return true;
}

function maybeModule(model: AnyModule, path: string): AnyModule | undefined {
  let current: AnyModule | undefined = model;
  for (const part of path.split('.')) {
    current = current.maybeChild(part);
    if (!current) return undefined;
  }
  return current;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
