import { METHOD_NAME_PATTERN, PeftError, defaultRegistry, describeValue, type MethodConfig, type MethodRegistry, type PeftMethod } from '@peftjs/core';
import { validatePartCompatibility, type PartDescription } from './part-compatibility';

/** One member of a hybrid: a registered method by name with its config. */
export interface HybridPart {
  /** Registered method name (`lora`, `prefix-tuning`, `acme/vera`). */
  method: string;
  /** The method's config (validated by the method when the hybrid is resolved). Default: the method's defaults. */
  config?: Readonly<Record<string, unknown>>;
  /** Names the part in overrides and errors. Default: the method name. */
  label?: string;
  /**
   * Gate the part's contribution with a learned function of its sublayer input (UniPELT, Mao et
   * al. §3). Passed to the method as `useGating: true`, as AdapterHub's UniPELTConfig sets
   * `use_gating` on each member; a method without that option makes resolving the hybrid fail with
   * a 'not-implemented' error.
   */
  gated?: boolean;
}

/** What `defineHybrid` takes. */
export interface HybridDefinition {
  /** The name it runs under (`mam`, `acme/lora-bitfit`); lowercase, like method names. */
  name: string;
  /** The package that defines it (shown by `peftjs methods`). Default `@peftjs/bench`. */
  packageName?: string;
  description?: string;
  /** The members, applied in this order. */
  parts: readonly HybridPart[];
}

/** Options of `Hybrid.configs`. */
export interface HybridResolveOptions {
  /** Where part methods are looked up. Default: core's default registry. */
  registry?: MethodRegistry;
  /** Per part label, config fields that replace the part's own (shallow). */
  overrides?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /**
   * Train the task head in full beside the parts: when no part trains it itself (BitFit's
   * `trainHead`), the first part that takes `modulesToSave` gets `{ roles: ['head'] }`. Default false.
   */
  trainHead?: boolean;
}

/** A validated composition of registered methods, applied as one adapter (`peft(model, hybrid.configs())`). */
export interface Hybrid {
  readonly kind: 'hybrid';
  readonly name: string;
  readonly packageName: string;
  readonly description: string;
  /** The parts with their labels filled in. */
  readonly parts: ReadonlyArray<HybridPart & { label: string }>;
  /**
   * Looks every part up in the registry, validates its config and checks the parts pairwise (see
   * validatePartCompatibility). A part whose method is not registered is an 'unknown-method'
   * error naming the package to install.
   */
  configs(options?: HybridResolveOptions): MethodConfig[];
}

const HYBRID_MARKER = Symbol.for('peftjs.hybrid');

/**
 * Defines a hybrid: plain data naming registered methods, validated now (names, labels) and when
 * resolved (configs, pairwise compatibility), so a preset can name methods of families that are not
 * installed yet. Saved through `peft(model, hybrid.configs()).save(dir)`, the adapter's manifest lists
 * each part's method with its package and version, and `loadPeft` applies them all again.
 *
 * @example
 * const loraBitfit = defineHybrid({ name: 'acme/lora-bitfit', parts: [{ method: 'lora', config: { r: 4 } }, { method: 'bitfit' }] });
 * registerHybrid(loraBitfit);              // now `peftjs compare --methods acme/lora-bitfit` runs it
 * const tuned = peft(model, loraBitfit.configs());
 */
export function defineHybrid(definition: HybridDefinition): Hybrid {
  const name = definition?.name;
  // `lora+bitfit` is the name of a composition by name (`--methods lora+bitfit`).
  if (typeof name !== 'string' || !name.split('+').every((segment) => METHOD_NAME_PATTERN.test(segment))) {
    invalidDefinition('name', name, 'lowercase letters, digits, "-", "." or "_", with an optional "scope/" namespace (e.g. "mam", "acme/lora-bitfit"), or such names joined by "+"');
  }
  if (!Array.isArray(definition.parts) || definition.parts.length < 2) invalidDefinition('parts', definition.parts, 'at least two parts ({ method, config? })');
  const parts = definition.parts.map((part, i) => {
    if (typeof part?.method !== 'string' || part.method === '') invalidDefinition(`parts.${i}.method`, part?.method, 'a registered method name');
    if (part.config !== undefined && (typeof part.config !== 'object' || part.config === null || Array.isArray(part.config))) {
      invalidDefinition(`parts.${i}.config`, part.config, 'a plain config object');
    }
    return Object.freeze({ ...part, label: part.label ?? part.method });
  });
  const labels = parts.map((part) => part.label);
  const repeated = labels.find((label, i) => labels.indexOf(label) !== i);
  if (repeated !== undefined) invalidDefinition('parts', labels, `distinct labels (give the second "${repeated}" part a label)`);
  const packageName = definition.packageName ?? '@peftjs/bench';
  const hybrid: Hybrid = {
    kind: 'hybrid',
    name,
    packageName,
    description: definition.description ?? `Hybrid of ${parts.map((part) => part.method).join(' + ')}.`,
    parts: Object.freeze(parts),
    configs: (options = {}) => resolveParts(hybrid, options),
  };
  Object.defineProperty(hybrid, HYBRID_MARKER, { value: true });
  return Object.freeze(hybrid);
}

/** True for objects made by defineHybrid (also across duplicate copies of this package). */
export function isHybrid(value: unknown): value is Hybrid {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[HYBRID_MARKER] === true;
}

const TRAIN_HEAD_SELECTOR = { roles: ['head'] } as const;

function resolveParts(hybrid: Hybrid, options: HybridResolveOptions): MethodConfig[] {
  const registry = options.registry ?? defaultRegistry;
  const overrides = options.overrides ?? {};
  const unknownLabels = Object.keys(overrides).filter((label) => !hybrid.parts.some((part) => part.label === label));
  if (unknownLabels.length) invalidArgument(`${hybrid.name}.overrides.${unknownLabels[0]}`, overrides[unknownLabels[0]!], hybrid.parts.map((part) => part.label));
  const methods = hybrid.parts.map((part) => partMethod(hybrid, part, registry));
  const raw = hybrid.parts.map((part): Record<string, unknown> => ({ ...part.config, ...overrides[part.label], ...(part.gated ? { useGating: true } : {}) }));
  const parsed = raw.map((config, i) => parsePart(hybrid, hybrid.parts[i]!, methods[i]!, config));
  if (options.trainHead && !parsed.some((config) => config.trainHead === true)) {
    const taker = methods.findIndex((method, i) => raw[i]!.modulesToSave === undefined && accepts(method, { ...raw[i], modulesToSave: TRAIN_HEAD_SELECTOR }));
    if (taker < 0) {
      throw new PeftError('invalid-config', `Hybrid "${hybrid.name}": no part can train the task head (none has a modulesToSave option or trains the head itself).`, {
        field: `${hybrid.name}.parts`,
        value: hybrid.parts.map((part) => part.method),
        allowed: 'a part with modulesToSave or trainHead',
      });
    }
    raw[taker] = { ...raw[taker], modulesToSave: TRAIN_HEAD_SELECTOR };
    parsed[taker] = parsePart(hybrid, hybrid.parts[taker]!, methods[taker]!, raw[taker]!);
  }
  const described: PartDescription[] = hybrid.parts.map((part, i) => ({ label: part.label, method: part.method, config: parsed[i]! }));
  validatePartCompatibility(hybrid.name, described);
  return methods.map((method, i) => method(raw[i]));
}

function partMethod(hybrid: Hybrid, part: HybridPart & { label: string }, registry: MethodRegistry): PeftMethod<any> {
  if (registry.has(part.method)) {
    const method = registry.get(part.method);
    if (method.kind === 'hybrid') invalidArgument(`${hybrid.name}.parts.${part.label}`, part.method, 'a method that is not itself a hybrid (list its parts instead)');
    return method;
  }
  const packageName = registry.providerOf(part.method);
  const install = packageName ? `install ${packageName} and import '${packageName}/register' (the bench imports it when installed)` : 'register the method first';
  throw new PeftError('unknown-method', `Hybrid "${hybrid.name}" needs method "${part.method}" (part "${part.label}"), which is not registered: ${install}.`, {
    field: `${hybrid.name}.parts.${part.label}.method`,
    value: part.method,
    allowed: registry.list().map((method) => method.name),
  });
}

function parsePart(hybrid: Hybrid, part: HybridPart & { label: string }, method: PeftMethod<any>, config: Record<string, unknown>): Record<string, unknown> {
  try {
    return method.parseConfig(config) as Record<string, unknown>;
  } catch (error) {
    if (part.gated && PeftError.isInstance(error) && error.field !== undefined && /useGating/.test(error.field + error.message)) {
      throw new PeftError(
        'not-implemented',
        `Hybrid "${hybrid.name}": part "${part.label}" is gated, but ${method.packageName}'s "${method.name}" has no useGating option yet ` +
          '(the gates of UniPELT need gated contributions from core\'s method kit and each family).',
        { field: `${hybrid.name}.parts.${part.label}.gated`, value: true, allowed: 'methods with a useGating option', cause: error },
      );
    }
    if (!PeftError.isInstance(error)) throw error;
    const field = error.field?.startsWith(`${method.name}.`) ? error.field.slice(method.name.length + 1) : (error.field ?? 'config');
    throw new PeftError(error.code, `Hybrid "${hybrid.name}", part "${part.label}": ${error.message}`, {
      field: `${hybrid.name}.parts.${part.label}.${field}`,
      value: error.value,
      allowed: error.allowed,
      cause: error,
    });
  }
}

function accepts(method: PeftMethod<any>, config: Record<string, unknown>): boolean {
  try {
    method.parseConfig(config);
    return true;
  } catch {
    return false;
  }
}

function invalidDefinition(field: string, value: unknown, allowed: string): never {
  throw new PeftError('invalid-argument', `Invalid hybrid definition ${field}: got ${describeValue(value)}; allowed: ${allowed}.`, { field, value, allowed });
}

function invalidArgument(field: string, value: unknown, allowed: string | readonly string[]): never {
  throw new PeftError('invalid-argument', `Invalid ${field}: got ${describeValue(value)}; allowed: ${typeof allowed === 'string' ? allowed : allowed.join(', ')}.`, { field, value, allowed });
}
