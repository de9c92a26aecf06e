/** Where the rank budget stands at a step, and whether this step prunes. */
export interface BudgetPoint {
  /** Ranks kept over all matrices. */
  budget: number;
  /** Prune at this step. */
  mask: boolean;
  /** In the final phase: the mask is fixed and reapplied. */
  final: boolean;
}

/**
 * AdaLoRA's cubic budget schedule (Zhang et al. 2023, §3.3, Eq. 14; HF PEFT's
 * RankAllocator.budget_schedule): the initial budget for the first tinit steps, then
 * b(t) = b_T + (b_0 − b_T)·(1 − (t − tinit)/(T − tfinal − tinit))³ (floored) pruning every deltaT
 * steps, and the target budget with a fixed mask for the last tfinal steps.
 */
export function budgetAt(step: number, schedule: { initialBudget: number; targetBudget: number; tinit: number; tfinal: number; totalSteps: number; deltaT: number }): BudgetPoint {
  const { initialBudget, targetBudget, tinit, tfinal, totalSteps, deltaT } = schedule;
  if (step <= tinit) return { budget: initialBudget, mask: false, final: false };
  if (step > totalSteps - tfinal) return { budget: targetBudget, mask: true, final: true };
  const remaining = 1 - (step - tinit) / (totalSteps - tfinal - tinit);
  return { budget: Math.floor((initialBudget - targetBudget) * remaining ** 3 + targetBudget), mask: step % deltaT === 0, final: false };
}

/**
 * The pruning threshold: the (initialBudget − budget)-th smallest score (HF's kthvalue), so that
 * masking every score ≤ threshold keeps `budget` ranks (ties may prune more). −∞ when nothing is pruned.
 */
export function pruningThreshold(scores: readonly number[], budget: number): number {
  const prune = scores.length - budget;
  if (prune <= 0) return Number.NEGATIVE_INFINITY;
  return [...scores].sort((a, b) => a - b)[prune - 1]!;
}
