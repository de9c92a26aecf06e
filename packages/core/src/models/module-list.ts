import { PeftError } from '../errors/peft-error';
import { Module } from '../nn/module';

/**
 * An ordered container whose children are named `0`, `1`, ... (paths `encoder.layers.3`). It is
 * never called itself; its owner iterates `items()`, which reads the children on every call so a
 * replaced item takes effect.
 */
export class ModuleList<M extends Module<never, unknown> = Module<never, unknown>> extends Module<[], never> {
  constructor(items: readonly M[] = []) {
    super();
    items.forEach((item, index) => this.registerModule(String(index), item));
  }

  get length(): number {
    return this.children().length;
  }

  /** The items in index order. */
  items(): M[] {
    return this.children().map(([, child]) => child as M);
  }

  /** The item at an index. */
  at(index: number): M {
    return this.child<M>(String(index));
  }

  forward(): never {
    throw new PeftError('invalid-argument', 'A ModuleList is a container; call its items instead.', { field: 'forward', value: 'ModuleList', allowed: 'calling items()' });
  }
}
