import { PeftError, describeValue } from '../errors/peft-error';
import type { AdapterMethodEntry } from './adapter-entry';
import type { AnyPeftMethod } from './erased-types';
import type { AppliedMethod, MethodConfig } from './types';

export function requireSetEnabled(entries: readonly AdapterMethodEntry[], action: string): void {
  const names = entries.filter((entry) => typeof entry.applied.setEnabled !== 'function').map((entry) => entry.method.name);
  if (names.length) {
    throw new PeftError('not-implemented', `Cannot ${action}: method(s) ${names.join(', ')} cannot be turned on and off (no setEnabled).`, {
      field: 'methods',
      value: names,
      allowed: 'methods that support setEnabled',
    });
  }
}

export function mergedError(action: string): PeftError {
  return new PeftError('invalid-argument', `Cannot ${action} while the adapter is merged; call unmerge() first.`, { field: 'merged', value: true, allowed: [String(false)] });
}

export function validateMethodConfigs(methods: readonly MethodConfig[]): void {
  if (!Array.isArray(methods) || methods.length === 0) {
    throw new PeftError('invalid-argument', `peft() takes a non-empty list of configured methods (e.g. [lora({ r: 8 })]); got ${describeValue(methods)}.`, {
      field: 'methods',
      value: methods,
      allowed: 'a non-empty array of MethodConfig',
    });
  }
  methods.forEach((entry, i) => {
    if (typeof entry?.method?.apply !== 'function') {
      const hint = typeof entry === 'function' ? ' (call the method: lora({ ... }), not lora)' : '';
      throw new PeftError('invalid-argument', `methods[${i}] is not a configured method${hint}.`, { field: `methods.${i}`, value: entry, allowed: 'a MethodConfig made by calling a method' });
    }
  });
}

export function validateApplied(applied: AppliedMethod, method: AnyPeftMethod): void {
  const ok = typeof applied === 'object' && applied !== null && typeof applied.parameters === 'function' && Array.isArray(applied.claims) && typeof applied.state === 'function' && typeof applied.load === 'function';
  if (!ok) {
    throw new PeftError('invalid-argument', `Method "${method.name}" (${method.packageName}) returned an invalid applied method from apply().`, {
      field: `${method.name}.apply`,
      value: applied,
      allowed: 'an AppliedMethod with parameters(), claims, state() and load()',
    });
  }
}

/** Removes what was applied (reverse order) so a failed composition leaves the model as it was, where methods allow it. */
export function withRollback(error: unknown, applied: readonly AdapterMethodEntry[]): unknown {
  const notRemovable = applied.filter((entry) => typeof entry.applied.remove !== 'function').map((entry) => entry.method.name);
  if (notRemovable.length === 0) {
    for (const entry of [...applied].reverse()) entry.applied.remove!();
    return error;
  }
  if (PeftError.isInstance(error)) {
    return new PeftError(error.code, `${error.message} The model was left modified: method(s) ${notRemovable.join(', ')} cannot be removed; rebuild the base model.`, {
      field: error.field,
      value: error.value,
      allowed: error.allowed,
      cause: error,
    });
  }
  return error;
}
