import { PeftError } from '../errors/peft-error';
import { Module } from '../nn/module';
import { tf } from '../nn/tf';
import type { ContributionGate } from '../nn/contribution-gate';

/**
 * One provider in a slot chain. `enabled` lets its method be switched off without leaving the
 * chain; `gate` (UniPELT) scales what it supplies by a function of the layer's input.
 */
interface ChainLink<P> {
  key: string;
  provider: P;
  enabled: boolean;
  gate: ContributionGate | undefined;
}

/**
 * A slot that holds several providers in order (several prefix or prompt methods, or named
 * adapters each with its own), so methods combine instead of conflicting. Each link is keyed
 * `<adapter>/<method>`; the slot's output concatenates the enabled links' rows in order.
 */
export abstract class SlotChain<P extends Module<any, any> & { readonly length: number }, TArgs extends unknown[], TOut> extends Module<TArgs, TOut> {
  private readonly links: Array<ChainLink<P>> = [];

  /** Adds a provider under a key (`<adapter>/<method>`); a key in use is a 'composition-conflict' error. */
  add(key: string, provider: P): void {
    if (this.links.some((link) => link.key === key)) {
      throw new PeftError('composition-conflict', `The slot already holds a provider "${key}".`, { field: 'key', value: key, allowed: `a key other than ${this.keys().join(', ')}` });
    }
    this.attach(childName(key), provider);
    this.links.push({ key, provider, enabled: true, gate: undefined });
  }

  /** Removes a provider (and its gate); returns it. */
  remove(key: string): P | undefined {
    const index = this.links.findIndex((link) => link.key === key);
    if (index < 0) return undefined;
    const [link] = this.links.splice(index, 1);
    this.removeChild(childName(key));
    this.setGateOf(link!, undefined);
    return link!.provider;
  }

  keys(): string[] {
    return this.links.map((link) => link.key);
  }

  get isEmpty(): boolean {
    return this.links.length === 0;
  }

  provider(key: string): P | undefined {
    return this.links.find((link) => link.key === key)?.provider;
  }

  setEnabled(key: string, enabled: boolean): void {
    this.link(key).enabled = enabled;
  }

  /** Puts a gate on one provider (undefined removes and disposes it). */
  setGate(key: string, gate: ContributionGate | undefined): void {
    this.setGateOf(this.link(key), gate);
  }

  gate(key: string): ContributionGate | undefined {
    return this.link(key).gate;
  }

  /** Rows the enabled providers supply in all. */
  get length(): number {
    return this.activeLinks().reduce((total, link) => total + link.provider.length, 0);
  }

  protected activeLinks(): Array<ChainLink<P>> {
    return this.links.filter((link) => link.enabled && link.provider.length > 0);
  }

  private link(key: string): ChainLink<P> {
    const found = this.links.find((link) => link.key === key);
    if (!found) throw new PeftError('invalid-argument', `The slot holds no provider "${key}".`, { field: 'key', value: key, allowed: this.keys() });
    return found;
  }

  private setGateOf(link: ChainLink<P>, gate: ContributionGate | undefined): void {
    if (link.gate && link.gate !== gate) {
      this.removeChild(gateName(link.key));
      link.gate.dispose();
    }
    link.gate = gate;
    if (gate) {
      this.removeChild(gateName(link.key));
      this.attach(gateName(link.key), gate);
    }
  }
}

/** Tree names may not contain dots or slashes are fine; keep keys readable in paths. */
function childName(key: string): string {
  return key.replace(/[./]/g, '_');
}

function gateName(key: string): string {
  return `gate_${childName(key)}`;
}

/** Concatenates tensors along an axis, or returns the only one. */
export function concatRows(parts: tf.Tensor[], axis: number): tf.Tensor {
  return parts.length === 1 ? parts[0]! : tf.concat(parts, axis);
}
