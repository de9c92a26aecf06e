import { PeftError } from '../errors/peft-error';
import type { SlotClaim } from './types';

/** Who made a claim: the method's name, its position in its adapter, and the adapter. */
export interface ClaimOwner {
  methodName: string;
  index: number;
  adapterName: string;
}

/**
 * The slots every applied method occupies, to detect what cannot compose. Two `slot` claims on
 * one path conflict (a slot holds one thing); `wrap` claims compose as wrapper of wrapper in
 * application order; `train` claims share the parameter.
 */
export class ClaimLedger {
  private readonly entries: Array<{ claim: SlotClaim; owner: ClaimOwner }> = [];

  /** Adds a method's claims, throwing 'composition-conflict' (and adding none) if one conflicts. */
  add(claims: readonly SlotClaim[], owner: ClaimOwner): void {
    for (const claim of claims) {
      if (claim.kind !== 'slot') continue;
      const clash = this.entries.find((entry) => entry.claim.kind === 'slot' && entry.claim.path === claim.path);
      if (clash) {
        throw new PeftError(
          'composition-conflict',
          `Methods "${clash.owner.methodName}" (${describeOwner(clash.owner)}) and "${owner.methodName}" (${describeOwner(owner)}) both fill the slot "${claim.path}"; ` +
            'a slot holds one method. Drop one of them, or give them different targets.',
          { field: 'methods', value: [clash.owner.methodName, owner.methodName], allowed: `at most one method per slot (${claim.path})` },
        );
      }
    }
    for (const claim of claims) this.entries.push({ claim, owner });
  }

  /** Forgets every claim of an adapter (after it is removed). */
  removeAdapter(adapterName: string): void {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i]!.owner.adapterName === adapterName) this.entries.splice(i, 1);
  }

  /** The methods wrapping `path`, innermost first. */
  wrappersOf(path: string): ClaimOwner[] {
    return this.entries.filter((entry) => entry.claim.kind === 'wrap' && entry.claim.path === path).map((entry) => entry.owner);
  }

  all(): ReadonlyArray<{ claim: SlotClaim; owner: ClaimOwner }> {
    return this.entries;
  }
}

function describeOwner(owner: ClaimOwner): string {
  return `adapter "${owner.adapterName}", method #${owner.index}`;
}
