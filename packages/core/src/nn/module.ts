import { PeftError } from '../errors/peft-error';
import type { Parameter } from './parameter';
import type { ModuleRole } from './roles';
import type { tf } from './tf';

/**
 * A small PyTorch-like module. Children and parameters are named; paths are dotted
 * (`encoder.layers.3.attention.query`). Parents reach their children through `this.child(name)`
 * (or a getter over it), never a cached field, so any child can be replaced by a wrapper that
 * holds the original: that is how every method plugs in.
 */
export abstract class Module<TArgs extends unknown[] = [tf.Tensor], TOut = tf.Tensor> {
  /** What this module is, independent of the model family (`attention.query`, `ffn.up`, ...). */
  role: ModuleRole | undefined;
  /** Training mode (dropout active). Set through `train()` / `eval()` so children follow. */
  training = true;

  private readonly childModules = new Map<string, Module<any, any>>();
  private readonly ownParameters = new Map<string, Parameter>();

  abstract forward(...args: TArgs): TOut;

  /** Registers (or replaces) a named child module and returns it. */
  protected registerModule<M extends Module<any, any>>(name: string, module: M): M {
    assertName(name);
    this.childModules.set(name, module);
    return module;
  }

  /** Registers a named parameter and returns it. */
  protected registerParameter(name: string, parameter: Parameter): Parameter {
    assertName(name);
    this.ownParameters.set(name, parameter);
    return parameter;
  }

  /** The direct child of that name. */
  child<M extends Module<any, any> = Module<any, any>>(name: string): M {
    const found = this.childModules.get(name);
    if (!found) {
      throw new PeftError('invalid-argument', `Module has no child "${name}"; children: ${[...this.childModules.keys()].join(', ') || '(none)'}.`, {
        field: 'name',
        value: name,
        allowed: [...this.childModules.keys()],
      });
    }
    return found as M;
  }

  /**
   * Adds a child outside the architecture, such as the holder of a method's own parameters that no
   * layer calls (Intrinsic SAID's θ_d), so they belong to the module tree like any other. An
   * existing child of that name is an error; `removeChild` takes it out again.
   */
  attach<M extends Module<any, any>>(name: string, module: M): M {
    if (this.childModules.has(name)) {
      throw new PeftError('composition-conflict', `Module already has a child "${name}".`, { field: 'name', value: name, allowed: 'a name not in use' });
    }
    return this.registerModule(name, module);
  }

  /**
   * Removes a direct child and returns it (undefined if absent). Empties an optional slot
   * (`prefix`, `prompt`) when a method is removed; the child's parameters are not disposed.
   */
  removeChild(name: string): Module<any, any> | undefined {
    const found = this.childModules.get(name);
    this.childModules.delete(name);
    return found;
  }

  /** The direct child of that name, or undefined. Use for optional slots. */
  maybeChild<M extends Module<any, any> = Module<any, any>>(name: string): M | undefined {
    return this.childModules.get(name) as M | undefined;
  }

  /** The direct parameter of that name. */
  parameter(name: string): Parameter {
    const found = this.ownParameters.get(name);
    if (!found) {
      throw new PeftError('invalid-argument', `Module has no parameter "${name}"; parameters: ${[...this.ownParameters.keys()].join(', ') || '(none)'}.`, {
        field: 'name',
        value: name,
        allowed: [...this.ownParameters.keys()],
      });
    }
    return found;
  }

  maybeParameter(name: string): Parameter | undefined {
    return this.ownParameters.get(name);
  }

  /** Direct children, in registration order. */
  children(): Array<[string, Module<any, any>]> {
    return [...this.childModules.entries()];
  }

  /** Direct parameters, in registration order. */
  ownNamedParameters(): Array<[string, Parameter]> {
    return [...this.ownParameters.entries()];
  }

  /** This module ('' path) and every descendant with its dotted path, depth first. */
  namedModules(prefix = ''): Array<[string, Module<any, any>]> {
    const out: Array<[string, Module<any, any>]> = [[prefix, this]];
    for (const [name, child] of this.childModules) {
      out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    }
    return out;
  }

  /** Every parameter with its dotted path; a parameter shared by two modules is listed once. */
  namedParameters(prefix = ''): Array<[string, Parameter]> {
    const seen = new Set<Parameter>();
    const out: Array<[string, Parameter]> = [];
    for (const [path, module] of this.namedModules(prefix)) {
      for (const [name, parameter] of module.ownParameters) {
        if (seen.has(parameter)) continue;
        seen.add(parameter);
        out.push([path ? `${path}.${name}` : name, parameter]);
      }
    }
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  trainableParameters(): Parameter[] {
    return this.parameters().filter((p) => p.trainable);
  }

  /** The module at a dotted path ('' is this module). */
  getModule<M extends Module<any, any> = Module<any, any>>(path: string): M {
    if (path === '') return this as unknown as M;
    return path.split('.').reduce<Module<any, any>>((current, part) => current.child(part), this) as M;
  }

  /** The parameter at a dotted path. */
  getParameter(path: string): Parameter {
    const dot = path.lastIndexOf('.');
    const owner = dot < 0 ? this : this.getModule(path.slice(0, dot));
    return owner.parameter(dot < 0 ? path : path.slice(dot + 1));
  }

  /**
   * Replaces the module at a dotted path with what `make` returns from the current one
   * (typically a wrapper holding it). Returns the new module.
   */
  replaceModule<M extends Module<any, any>>(path: string, make: (current: Module<any, any>) => M): M {
    if (path === '') throw new PeftError('invalid-argument', 'Cannot replace the root module.', { field: 'path', value: path, allowed: 'a non-empty dotted path' });
    const dot = path.lastIndexOf('.');
    const parent = dot < 0 ? this : this.getModule(path.slice(0, dot));
    const name = dot < 0 ? path : path.slice(dot + 1);
    const replacement = make(parent.child(name));
    parent.childModules.set(name, replacement);
    return replacement;
  }

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const [, module] of this.namedModules()) module.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Freezes every parameter below this module. */
  freeze(): this {
    for (const parameter of this.parameters()) parameter.trainable = false;
    return this;
  }

  /** Disposes every parameter below this module. */
  dispose(): void {
    for (const parameter of this.parameters()) parameter.dispose();
  }
}

function assertName(name: string): void {
  if (name === '' || name.includes('.')) {
    throw new PeftError('invalid-argument', `Module child and parameter names must be non-empty and dot-free; got "${name}".`, {
      field: 'name',
      value: name,
      allowed: 'a non-empty name without dots',
    });
  }
}
