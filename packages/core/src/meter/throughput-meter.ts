import { invalidArgument } from '../errors/peft-error';

/** Milliseconds from an arbitrary origin; injectable so tests can drive time. */
export type Clock = () => number;

export interface ThroughputMeterOptions {
  /** Leading steps not counted (JIT, kernel and allocator warm-up). Default 1. */
  warmupSteps?: number;
  /** Default `performance.now`. */
  now?: Clock;
}

/** What a ThroughputMeter has measured so far (warm-up steps excluded). */
export interface ThroughputReading {
  /** Steps counted. */
  steps: number;
  tokens: number;
  /** Total milliseconds of the counted steps. */
  milliseconds: number;
  /** tokens / seconds; 0 before any counted step. */
  tokensPerSecond: number;
  /** steps / seconds; 0 before any counted step. */
  stepsPerSecond: number;
  /** Warm-up steps seen (and not counted). */
  warmupStepsSeen: number;
}

/**
 * Tokens per second of training or inference steps, with the first `warmupSteps` excluded.
 * A step's tokens are whatever the caller counts: `countTokens` gives the non-padding tokens of a
 * batch (or batch × sequence length without a mask). Time a step only after its results are
 * read back (`dataSync`/`await data()`) on asynchronous backends, or it measures the dispatch.
 */
export class ThroughputMeter {
  private readonly warmupSteps: number;
  private readonly now: Clock;
  private warmupSeen = 0;
  private steps = 0;
  private tokens = 0;
  private milliseconds = 0;

  constructor(options: ThroughputMeterOptions = {}) {
    const warmupSteps = options.warmupSteps ?? 1;
    if (!Number.isInteger(warmupSteps) || warmupSteps < 0) invalidArgument('warmupSteps', warmupSteps, 'an integer >= 0');
    this.warmupSteps = warmupSteps;
    this.now = options.now ?? (() => performance.now());
  }

  /** Records one step of `tokens` tokens that took `milliseconds`. */
  record(tokens: number, milliseconds: number): void {
    if (!(Number.isFinite(tokens) && tokens >= 0)) invalidArgument('tokens', tokens, 'a finite number >= 0');
    if (!(Number.isFinite(milliseconds) && milliseconds >= 0)) invalidArgument('milliseconds', milliseconds, 'a finite number >= 0');
    if (this.warmupSeen < this.warmupSteps) {
      this.warmupSeen += 1;
      return;
    }
    this.steps += 1;
    this.tokens += tokens;
    this.milliseconds += milliseconds;
  }

  /** Times `fn` as one step of `tokens` tokens and returns its result. */
  step<T>(tokens: number, fn: () => T): T {
    const start = this.now();
    const result = fn();
    this.record(tokens, this.now() - start);
    return result;
  }

  /** Times an async step (awaited) of `tokens` tokens. */
  async stepAsync<T>(tokens: number, fn: () => Promise<T>): Promise<T> {
    const start = this.now();
    const result = await fn();
    this.record(tokens, this.now() - start);
    return result;
  }

  reading(): ThroughputReading {
    const seconds = this.milliseconds / 1000;
    return {
      steps: this.steps,
      tokens: this.tokens,
      milliseconds: this.milliseconds,
      tokensPerSecond: seconds > 0 ? this.tokens / seconds : 0,
      stepsPerSecond: seconds > 0 ? this.steps / seconds : 0,
      warmupStepsSeen: this.warmupSeen,
    };
  }
}

export interface MeasureThroughputOptions extends ThroughputMeterOptions {
  /** Counted steps (after warm-up). */
  steps: number;
  /** Tokens each step processes, or a function of the step index (warm-up steps included, from 0). */
  tokensPerStep: number | ((step: number) => number);
}

/** Runs `step` warmupSteps + steps times and returns the throughput of the counted ones. */
export function measureThroughput(step: (index: number) => void, options: MeasureThroughputOptions): ThroughputReading {
  if (!Number.isInteger(options.steps) || options.steps < 1) invalidArgument('steps', options.steps, 'an integer >= 1');
  const meter = new ThroughputMeter(options);
  const total = (options.warmupSteps ?? 1) + options.steps;
  for (let index = 0; index < total; index += 1) {
    const tokens = typeof options.tokensPerStep === 'function' ? options.tokensPerStep(index) : options.tokensPerStep;
    meter.step(tokens, () => step(index));
  }
  return meter.reading();
}

/** `measureThroughput` for async steps. */
export async function measureThroughputAsync(step: (index: number) => Promise<void>, options: MeasureThroughputOptions): Promise<ThroughputReading> {
  if (!Number.isInteger(options.steps) || options.steps < 1) invalidArgument('steps', options.steps, 'an integer >= 1');
  const meter = new ThroughputMeter(options);
  const total = (options.warmupSteps ?? 1) + options.steps;
  for (let index = 0; index < total; index += 1) {
    const tokens = typeof options.tokensPerStep === 'function' ? options.tokensPerStep(index) : options.tokensPerStep;
    await meter.stepAsync(tokens, () => step(index));
  }
  return meter.reading();
}
