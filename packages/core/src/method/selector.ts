import { z } from 'zod';
import { PeftError, describeValue } from '../errors/peft-error';
import { Module } from '../nn/module';
import type { Parameter } from '../nn/parameter';
import { ROLE_GROUPS } from '../nn/roles';
import { configErrorFromZod } from './config-error';
import type { AnyModule } from './erased-types';
import { compilePathPattern, pathPatternSchema } from './path-pattern';

/**
 * Which modules or parameters a method targets. Every criterion given must hold (AND); within a
 * criterion any entry may match (OR). An empty selector matches everything.
 */
export const targetSelectorSchema = z.strictObject({
  /** Module roles (`attention.query`) or role groups (`all-linear`, `attention.*`; see ROLE_GROUPS). A parameter matches through its owner or any ancestor module. */
  roles: z.array(z.string().min(1)).min(1).optional(),
  /** Path globs (`encoder.layers.*.attention.query`, `**.ffn.**`), RegExps or `{ regex }`. A parameter matches by its own path or its owner module's path. */
  paths: z.array(pathPatternSchema).min(1).optional(),
  /** Layer indices, matched through a `layers.<i>` path segment. */
  layers: z.array(z.number().int().min(0)).min(1).optional(),
  /** Patterns (same forms as `paths`) whose matches are dropped, with everything below them. */
  exclude: z.array(pathPatternSchema).optional(),
  /** Parameter tensor kinds (`bias`, `gamma`, ...); for module selection, modules owning such a parameter. */
  tensorKinds: z.array(z.string().min(1)).min(1).optional(),
  /** Module class names (`Linear`, `LayerNorm`), matching subclasses too. */
  moduleTypes: z.array(z.string().min(1)).min(1).optional(),
});
export type TargetSelector = z.input<typeof targetSelectorSchema>;
export type ParsedTargetSelector = z.output<typeof targetSelectorSchema>;

export interface ResolveTargetsOptions {
  /** Select modules (to wrap) or parameters (to train). */
  kind: 'module' | 'parameter';
  /** The config field the selector came from, for error messages. Default `targets`. */
  field?: string;
  /**
   * For modules: drop matches nested inside another match, so a wrapper that keeps its target's
   * role is targeted once (wrapper of wrapper) and not together with the module it holds. Default true.
   */
  outermost?: boolean;
  /** Return an empty list instead of throwing 'selector-no-match'. Default false. */
  allowEmpty?: boolean;
}

export interface ModuleTarget {
  path: string;
  module: AnyModule;
}

export interface ParameterTarget {
  path: string;
  parameter: Parameter;
  /** The module that owns the parameter, and its path. */
  module: AnyModule;
  modulePath: string;
}

/** Validates a selector; errors are 'invalid-config' naming the field (`targets.roles.0`). */
export function parseTargetSelector(selector: unknown, field = 'targets'): ParsedTargetSelector {
  const result = targetSelectorSchema.safeParse(selector ?? {});
  if (!result.success) throw configErrorFromZod(field, result.error, selector, targetSelectorSchema);
  return result.data;
}

/**
 * The modules or parameters of `model` a selector matches, in tree order. Matching nothing is a
 * PeftError('selector-no-match') that lists the roles, module types and paths that exist.
 *
 * @example
 * resolveTargets(model, { roles: ['attention.query', 'attention.value'], layers: [0] }, { kind: 'module' });
 * resolveTargets(model, { tensorKinds: ['bias'], exclude: ['head.**'] }, { kind: 'parameter' });
 */
export function resolveTargets(model: AnyModule, selector: TargetSelector, options: ResolveTargetsOptions & { kind: 'module' }): ModuleTarget[];
export function resolveTargets(model: AnyModule, selector: TargetSelector, options: ResolveTargetsOptions & { kind: 'parameter' }): ParameterTarget[];
export function resolveTargets(model: AnyModule, selector: TargetSelector, options: ResolveTargetsOptions): ModuleTarget[] | ParameterTarget[];
export function resolveTargets(model: AnyModule, selector: TargetSelector, options: ResolveTargetsOptions): ModuleTarget[] | ParameterTarget[] {
  const field = options.field ?? 'targets';
  const parsed = parseTargetSelector(selector, field);
  const matched = options.kind === 'module' ? matchModules(model, parsed, options.outermost ?? true) : matchParameters(model, parsed);
  if (matched.length === 0 && !options.allowEmpty) throw noMatchError(model, parsed, selector, options.kind, field);
  return matched;
}

export interface WrappableTargetsOptions {
  /** Which matched modules the method can wrap (e.g. `module instanceof Linear`). */
  accept(module: AnyModule): boolean;
  /** The method's name, for the error. */
  method: string;
  /** What `accept` takes, in words (`Linear modules`), for the error. */
  needs: string;
  /** Example roles to suggest in the error. */
  suggest?: string;
  /** The config field the selector came from. Default `targets`. */
  field?: string;
}

/**
 * The outermost modules a selector matches that a method can wrap. Matching nothing at all is
 * resolveTargets' 'selector-no-match' (listing what exists); matching only modules the method
 * cannot wrap is a 'selector-no-match' naming what it needs.
 */
export function resolveWrappableTargets(model: AnyModule, selector: TargetSelector, options: WrappableTargetsOptions): ModuleTarget[] {
  const field = options.field ?? 'targets';
  const matched = resolveTargets(model, selector, { kind: 'module', field }).filter(({ module }) => options.accept(module));
  if (matched.length === 0) {
    const hint = options.suggest ? ` (use roles such as ${options.suggest})` : '';
    throw new PeftError('selector-no-match', `${options.method}: the ${field} matched no ${options.needs}${hint}.`, {
      field,
      value: selector,
      allowed: `a selector matching ${options.needs}`,
    });
  }
  return matched;
}

/** One line of a dry run: what a selector would target. */
export interface DryRunEntry {
  path: string;
  role: string | undefined;
  /** Module class name (of the owner, for parameters). */
  className: string;
  /** Parameters below the module, or the parameter's size. */
  parameterCount: number;
  /** For parameters: the tensor kind. */
  tensorKind?: string;
}

/** Lists what a selector would match, without changing the model or throwing on no match. */
export function dryRun(model: AnyModule, selector: TargetSelector, options: { kind?: 'module' | 'parameter' } = {}): DryRunEntry[] {
  if ((options.kind ?? 'module') === 'parameter') {
    return resolveTargets(model, selector, { kind: 'parameter', allowEmpty: true }).map((target) => ({
      path: target.path,
      role: target.module.role,
      className: target.module.constructor.name,
      parameterCount: target.parameter.size,
      tensorKind: target.parameter.kind,
    }));
  }
  return resolveTargets(model, selector, { kind: 'module', allowEmpty: true }).map((target) => ({
    path: target.path,
    role: target.module.role,
    className: target.module.constructor.name,
    parameterCount: target.module.parameters().reduce((total, parameter) => total + parameter.size, 0),
  }));
}

interface Criteria {
  roles: ReadonlySet<string> | undefined;
  paths: Array<(path: string) => boolean> | undefined;
  layers: ReadonlySet<number> | undefined;
  exclude: Array<(path: string) => boolean>;
  tensorKinds: ReadonlySet<string> | undefined;
  moduleTypes: ReadonlySet<string> | undefined;
}

function criteriaOf(selector: ParsedTargetSelector): Criteria {
  return {
    roles: selector.roles ? new Set(selector.roles.flatMap((role): readonly string[] => ROLE_GROUPS[role] ?? [role])) : undefined,
    paths: selector.paths?.map(compilePathPattern),
    layers: selector.layers ? new Set(selector.layers) : undefined,
    exclude: (selector.exclude ?? []).map(compilePathPattern),
    tensorKinds: selector.tensorKinds ? new Set(selector.tensorKinds) : undefined,
    moduleTypes: selector.moduleTypes ? new Set(selector.moduleTypes) : undefined,
  };
}

function matchModules(model: AnyModule, selector: ParsedTargetSelector, outermost: boolean): ModuleTarget[] {
  const criteria = criteriaOf(selector);
  const out: ModuleTarget[] = [];
  for (const [path, module] of model.namedModules()) {
    if (path === '') continue;
    if (outermost && out.some((match) => path.startsWith(`${match.path}.`))) continue;
    if (criteria.roles && !(module.role !== undefined && criteria.roles.has(module.role))) continue;
    if (criteria.paths && !criteria.paths.some((test) => test(path))) continue;
    if (criteria.layers && !inLayers(path, criteria.layers)) continue;
    if (criteria.moduleTypes && !classNames(module).some((name) => criteria.moduleTypes!.has(name))) continue;
    if (criteria.tensorKinds && !module.ownNamedParameters().some(([, p]) => criteria.tensorKinds!.has(p.kind))) continue;
    if (isExcluded(path, criteria.exclude)) continue;
    out.push({ path, module });
  }
  return out;
}

function matchParameters(model: AnyModule, selector: ParsedTargetSelector): ParameterTarget[] {
  const criteria = criteriaOf(selector);
  const modules = new Map(model.namedModules());
  const seen = new Set<Parameter>();
  const out: ParameterTarget[] = [];
  for (const [modulePath, module] of modules) {
    for (const [name, parameter] of module.ownNamedParameters()) {
      if (seen.has(parameter)) continue;
      seen.add(parameter);
      const path = modulePath ? `${modulePath}.${name}` : name;
      if (criteria.roles && !ancestorPaths(modulePath).some((p) => criteria.roles!.has(modules.get(p)?.role ?? ''))) continue;
      if (criteria.paths && !criteria.paths.some((test) => test(path) || test(modulePath))) continue;
      if (criteria.layers && !inLayers(path, criteria.layers)) continue;
      if (criteria.moduleTypes && !classNames(module).some((className) => criteria.moduleTypes!.has(className))) continue;
      if (criteria.tensorKinds && !criteria.tensorKinds.has(parameter.kind)) continue;
      if (isExcluded(path, criteria.exclude)) continue;
      out.push({ path, parameter, module, modulePath });
    }
  }
  return out;
}

/** '' (the root), then every prefix of the path, the path itself last. */
function ancestorPaths(path: string): string[] {
  if (path === '') return [''];
  const parts = path.split('.');
  return ['', ...parts.map((_, i) => parts.slice(0, i + 1).join('.'))];
}

function isExcluded(path: string, exclude: ReadonlyArray<(path: string) => boolean>): boolean {
  return exclude.length > 0 && ancestorPaths(path).some((p) => p !== '' && exclude.some((test) => test(p)));
}

const LAYER_SEGMENT = /(?:^|\.)layers\.(\d+)(?=\.|$)/g;

function layerIndices(path: string): number[] {
  return [...path.matchAll(LAYER_SEGMENT)].map((match) => Number(match[1]));
}

function inLayers(path: string, layers: ReadonlySet<number>): boolean {
  return layerIndices(path).some((index) => layers.has(index));
}

/** The class name of a module and of each class it extends, up to Module. */
function classNames(module: AnyModule): string[] {
  const names: string[] = [];
  for (let prototype = Object.getPrototypeOf(module) as object | null; prototype && prototype !== Module.prototype; prototype = Object.getPrototypeOf(prototype) as object | null) {
    names.push((prototype as { constructor: { name: string } }).constructor.name);
  }
  return names;
}

const SAMPLE_SIZE = 12;

function noMatchError(model: AnyModule, selector: ParsedTargetSelector, given: unknown, kind: 'module' | 'parameter', field: string): PeftError {
  const modules = model.namedModules().filter(([path]) => path !== '');
  const roles = [...new Set(modules.map(([, m]) => m.role).filter((r): r is string => r !== undefined))].sort();
  const types = [...new Set(modules.map(([, m]) => m.constructor.name))].sort();
  const layers = [...new Set(modules.flatMap(([path]) => layerIndices(path)))].sort((a, b) => a - b);
  const paths = kind === 'module' ? modules.map(([path]) => path) : model.namedParameters().map(([path]) => path);
  const lines = [
    `The ${field} selector ${describeValue(given)} matched no ${kind === 'module' ? 'modules' : 'parameters'}.`,
    `  roles present: ${roles.join(', ') || '(none)'}`,
    `  module types: ${types.join(', ') || '(none)'}`,
    `  layers: ${layers.length ? layers.join(', ') : '(none)'}`,
  ];
  if (kind === 'parameter') lines.push(`  tensor kinds: ${[...new Set(model.parameters().map((p) => p.kind))].sort().join(', ') || '(none)'}`);
  lines.push(`  ${kind} paths (${Math.min(SAMPLE_SIZE, paths.length)} of ${paths.length}): ${paths.slice(0, SAMPLE_SIZE).join(', ')}${paths.length > SAMPLE_SIZE ? ', ...' : ''}`);
  lines.push('Globs match whole dotted paths (use `**.query` for any depth); try dryRun(model, selector) to see what matches.');
  const criteria = Object.keys(selector).filter((key) => selector[key as keyof ParsedTargetSelector] !== undefined);
  return new PeftError('selector-no-match', lines.join('\n'), {
    field: criteria.length === 1 ? `${field}.${criteria[0]}` : field,
    value: given,
    allowed: roles,
  });
}
