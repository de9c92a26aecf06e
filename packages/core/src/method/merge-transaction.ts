import { PeftError } from '../errors/peft-error';
import type { AdapterMethodEntry } from './adapter-entry';
import { isAllFinite, type ParameterBackup } from './parameter-backup';

/** Merges each method in order; a failure or a non-finite weight unmerges what was done and restores the backup bit for bit. */
export function mergeInOrder(entries: readonly AdapterMethodEntry[], backup: ParameterBackup): void {
  const done: AdapterMethodEntry[] = [];
  for (const entry of entries) {
    const before = backup.mark();
    try {
      entry.applied.merge!();
      done.push(entry);
      const broken = backup.changedSince(before).filter((parameter) => !isAllFinite(parameter.variable));
      if (broken.length) {
        throw new PeftError('merge-not-finite', `Merging "${entry.method.name}" made ${broken.length} weight tensor(s) non-finite; the merge was rolled back.`, {
          field: 'merge',
          value: entry.method.name,
          allowed: 'finite adapter weights',
        });
      }
    } catch (error) {
      for (const merged of done.reverse()) {
        try {
          merged.applied.unmerge!();
        } catch {
          // The weights are restored from the backup below either way.
        }
      }
      backup.restore();
      throw error;
    }
  }
}

/** Throws 'not-mergeable' naming the methods that cannot merge now. */
export function requireMergeable(entries: readonly AdapterMethodEntry[]): void {
  const names = entries.filter((entry) => !canMergeEntry(entry)).map((entry) => entry.method.name);
  if (names.length) {
    throw new PeftError('not-mergeable', `Cannot merge: method(s) ${names.join(', ')} cannot be folded into the base weights (no merge/unmerge).`, {
      field: 'methods',
      value: names,
      allowed: 'methods that support merge (e.g. reparametrizations, scaling vectors, selective methods)',
    });
  }
}


/** Whether a method can merge now: it has merge and unmerge, and its canMerge (when given) agrees. */
export function canMergeEntry(entry: AdapterMethodEntry): boolean {
  const applied = entry.applied;
  return typeof applied.merge === 'function' && typeof applied.unmerge === 'function' && (applied.canMerge?.() ?? true);
}
