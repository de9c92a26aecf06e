import { FULL_FINE_TUNING, type BenchResults, type BenchRun } from './results';

/** Mean and sample standard deviation of a value over seeds. */
export interface SeedStatistic {
  mean: number;
  /**
   * Sample standard deviation (n − 1 in the denominator); null for a single seed, where the
   * spread is not measured (shown as "—", not as 0, which would claim no variance).
   */
  std: number | null;
}

/** One method's runs aggregated over seeds: one row of the survey's Table 5. */
export interface MethodSummary {
  method: string;
  /** Runs (seeds) aggregated. */
  seeds: number;
  /** The task's primary metric. */
  score: SeedStatistic;
  /** Every metric the runs report, by name. */
  scores: Record<string, SeedStatistic>;
  /** Mean over seeds (constant for every method but random masks). */
  trainableParameters: number;
  /** 100 · trainable / total parameters of the run (base plus added), as core's parameter report. */
  trainablePercent: number;
  /** Null when a run did not track changed parameters. */
  changedParameters: number | null;
  changedPercent: number | null;
  totalParameters: number;
  /** Mean peak bytes of a training step. */
  peakMemoryBytes: number;
  /** Peak memory / full fine-tuning's peak memory; null without a `full` run. */
  peakMemoryRatio: number | null;
  trainTokensPerSecond: number;
  inferenceTokensPerSecond: number;
  /** 100 · train tok/s / full's train tok/s; null without a `full` run. */
  trainThroughputPercent: number | null;
  inferenceThroughputPercent: number | null;
  adapterBytes: number;
  steps: number;
  wallSeconds: number;
}

/** The aggregated comparison: one row per method, full fine-tuning first. */
export interface ResultsSummary {
  metric: string;
  /** Whether a `full` run exists, so the ratios are measured. */
  hasFull: boolean;
  methods: MethodSummary[];
}

/** Arithmetic mean; the input is never empty here (a method has at least one run). */
function mean(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0) / values.length;
}

/** Mean and sample standard deviation (n − 1); std is null for fewer than two values. */
export function seedStatistic(values: readonly number[]): SeedStatistic {
  const average = mean(values);
  if (values.length < 2) return { mean: average, std: null };
  const squares = values.reduce((total, value) => total + (value - average) ** 2, 0);
  return { mean: average, std: Math.sqrt(squares / (values.length - 1)) };
}

/**
 * Aggregates runs per method over seeds. Ratios (memory ×full, throughput % of full) compare with
 * the `full` runs of the same results, so they are always measured on the same backend and machine;
 * without a `full` run they are null. Order: full first, then by trainable % (ascending), then name.
 */
export function summarizeResults(results: BenchResults): ResultsSummary {
  const metric = results.task.metric;
  const byMethod = new Map<string, BenchRun[]>();
  for (const run of results.runs) {
    const runs = byMethod.get(run.method) ?? [];
    runs.push(run);
    byMethod.set(run.method, runs);
  }
  const fullRuns = byMethod.get(FULL_FINE_TUNING);
  const full = fullRuns
    ? {
        peakMemoryBytes: mean(fullRuns.map((run) => run.peakMemoryBytes)),
        trainTokensPerSecond: mean(fullRuns.map((run) => run.trainTokensPerSecond)),
        inferenceTokensPerSecond: mean(fullRuns.map((run) => run.inferenceTokensPerSecond)),
      }
    : undefined;

  const methods = [...byMethod.entries()].map(([method, runs]): MethodSummary => {
    const of = (pick: (run: BenchRun) => number) => mean(runs.map(pick));
    const metricNames = [...new Set(runs.flatMap((run) => Object.keys(run.score)))].sort();
    const scores = Object.fromEntries(
      metricNames.map((name) => [name, seedStatistic(runs.flatMap((run) => (run.score[name] === undefined ? [] : [run.score[name]])))]),
    );
    const totalParameters = of((run) => run.totalParameters);
    const trainableParameters = of((run) => run.trainableParameters);
    const changedTracked = runs.every((run) => run.changedParameters !== null);
    const changedParameters = changedTracked ? of((run) => run.changedParameters ?? 0) : null;
    const peakMemoryBytes = of((run) => run.peakMemoryBytes);
    const trainTokensPerSecond = of((run) => run.trainTokensPerSecond);
    const inferenceTokensPerSecond = of((run) => run.inferenceTokensPerSecond);
    return {
      method,
      seeds: runs.length,
      score: scores[metric]!,
      scores,
      trainableParameters,
      trainablePercent: (100 * trainableParameters) / totalParameters,
      changedParameters,
      changedPercent: changedParameters === null ? null : (100 * changedParameters) / totalParameters,
      totalParameters,
      peakMemoryBytes,
      peakMemoryRatio: full && full.peakMemoryBytes > 0 ? peakMemoryBytes / full.peakMemoryBytes : null,
      trainTokensPerSecond,
      inferenceTokensPerSecond,
      trainThroughputPercent: full ? (100 * trainTokensPerSecond) / full.trainTokensPerSecond : null,
      inferenceThroughputPercent: full ? (100 * inferenceTokensPerSecond) / full.inferenceTokensPerSecond : null,
      adapterBytes: of((run) => run.adapterBytes),
      steps: of((run) => run.steps),
      wallSeconds: of((run) => run.wallSeconds),
    };
  });
  methods.sort(
    (a, b) =>
      Number(b.method === FULL_FINE_TUNING) - Number(a.method === FULL_FINE_TUNING) ||
      a.trainablePercent - b.trainablePercent ||
      a.method.localeCompare(b.method),
  );
  return { metric, hasFull: full !== undefined, methods };
}
