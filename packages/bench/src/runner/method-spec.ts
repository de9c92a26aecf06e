import { PeftError, defaultRegistry, type MethodConfig, type MethodKind, type MethodRegistry, type PeftMethod } from '@peftjs/core';
import { composeByName, COMPOSITION_SEPARATOR } from '../hybrids/compose-by-name';
import type { Hybrid } from '../hybrids/define-hybrid';
import { hybridsFor, type HybridRegistry } from '../hybrids/hybrid-registry';
import { FULL_FINE_TUNING } from '../report/results';

/**
 * One row of a comparison: a display name and the configured methods applied in order (none for
 * full fine-tuning). A bare method name means that method with its default config.
 */
export interface MethodRunSpec {
  name: string;
  configs: readonly MethodConfig[];
  /** Overrides the learning rate picked by the run's kind (e.g. token SFT training every weight wants full fine-tuning's). */
  learningRate?: number;
}

export type MethodRunInput = string | MethodRunSpec;

/** Learning rate of the runs, by the run's kind (a composition of several methods is 'hybrid'). */
export type LearningRates = Partial<Record<MethodKind | 'full', number>>;

/**
 * Defaults for a small encoder: full fine-tuning needs a smaller step than PEFT methods, which
 * train few, often zero-initialised parameters (He et al., "Towards a Unified View of
 * Parameter-Efficient Transfer Learning", use 1e-4 vs 1e-3 to 5e-3 for the same reason).
 */
export const DEFAULT_LEARNING_RATES: Required<LearningRates> = {
  full: 3e-4,
  additive: 3e-3,
  selective: 3e-3,
  reparametrization: 3e-3,
  hybrid: 3e-3,
};

/**
 * Resolves names through the registry and the hybrids: a method name, a registered hybrid (`mam`)
 * or a composition by name (`lora+bitfit`). Unknown names are an error listing the registered ones
 * and the providing package. `field` names the option in errors (`--methods` for the CLI).
 */
export function resolveMethodRuns(inputs: readonly MethodRunInput[], registry: MethodRegistry = defaultRegistry, field = 'methods', hybrids: HybridRegistry = hybridsFor(registry)): MethodRunSpec[] {
  const runs = inputs.map((input) => (typeof input === 'string' ? resolveMethodName(input, registry, field, hybrids) : input));
  const names = runs.map((run) => run.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) {
    throw new PeftError('invalid-argument', `Invalid ${field}: "${duplicate}" is listed twice; allowed: each method once.`, { field, value: names, allowed: 'each method once' });
  }
  return runs;
}

/** One name of a comparison resolved to its run: see resolveMethodRuns. */
export function resolveMethodName(name: string, registry: MethodRegistry = defaultRegistry, field = 'methods', hybrids: HybridRegistry = hybridsFor(registry)): MethodRunSpec {
  if (name === FULL_FINE_TUNING) return { name, configs: [] };
  if (!registry.has(name) && hybrids.has(name)) return hybridRun(hybrids.get(name), registry);
  if (!registry.has(name) && name.includes(COMPOSITION_SEPARATOR)) return hybridRun(composeByName(name, { registry, hybrids, field }), registry);
  if (!registry.has(name)) {
    const registered = [FULL_FINE_TUNING, ...registry.list().map((method) => method.name), ...hybrids.list().map((hybrid) => hybrid.name)];
    const packageName = registry.providerOf(name);
    const hint = packageName ? ` "${name}" is provided by ${packageName}, which is not installed or not registered: add it to your dependencies.` : '';
    throw new PeftError('unknown-method', `Invalid ${field}: unknown method "${name}".${hint} Registered: ${registered.join(', ')}.`, {
      field,
      value: name,
      allowed: registered,
    });
  }
  const method = registry.get(name);
  return { name, configs: [method(benchDefaultConfig(method))] };
}

/** A hybrid's parts with their configs, the task head trained by the first part that can (see HybridResolveOptions.trainHead). */
export function hybridRun(hybrid: Hybrid, registry: MethodRegistry = defaultRegistry): MethodRunSpec {
  return { name: hybrid.name, configs: hybrid.configs({ registry, trainHead: true }) };
}

/** Trains the task head beside the method, as HF PEFT adds the classifier to `modules_to_save` for classification. */
const TRAIN_HEAD = { modulesToSave: { roles: ['head'] } } as const;

/**
 * A bare method name runs with its default config, plus the task head trained in full when the
 * method has a `modulesToSave` option (a fresh head that stays frozen at its random init cannot
 * learn the task). Methods that train the head themselves (BitFit) take no such option.
 */
export function benchDefaultConfig(method: PeftMethod<any>): Record<string, unknown> | undefined {
  try {
    method.parseConfig(TRAIN_HEAD);
    return { ...TRAIN_HEAD };
  } catch {
    return undefined;
  }
}

/** The kind that picks a run's learning rate. */
export function runKind(run: MethodRunSpec): MethodKind | 'full' {
  if (run.configs.length === 0) return 'full';
  if (run.configs.length > 1) return 'hybrid';
  return run.configs[0]!.method.kind;
}

export function learningRateOf(run: MethodRunSpec, rates: LearningRates = {}): number {
  if (run.learningRate !== undefined) return run.learningRate;
  const kind = runKind(run);
  return rates[kind] ?? DEFAULT_LEARNING_RATES[kind];
}
