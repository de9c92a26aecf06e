import cliProgress from 'cli-progress';
import type { CompareProgressEvent } from '../runner/compare-methods';
import type { CliIo } from './cli-io';

/** Seconds as `1m05s` / `42s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const whole = Math.round(seconds);
  const minutes = Math.floor(whole / 60);
  return minutes > 0 ? `${minutes}m${String(whole % 60).padStart(2, '0')}s` : `${whole}s`;
}

/** Estimated seconds left after `done` of `total` units took `elapsed` seconds (at the mean rate so far). */
export function remainingSeconds(done: number, total: number, elapsed: number): number {
  return done <= 0 ? Number.NaN : (elapsed / done) * (total - done);
}

/**
 * Turns comparison events into progress on stderr, so stdout carries only the table (or the JSON).
 * On a terminal: an overall bar (runs done of all, ETA) and one bar per running run (step, loss,
 * ETA), several at once when a pool trains runs side by side. Otherwise one line per finished or
 * failed run with the overall ETA (logs stay readable in CI). Silent in JSON mode.
 */
export function progressReporter(io: CliIo, mode: { json: boolean; metric: string; now?: () => number }): { onProgress: (event: CompareProgressEvent) => void; stop(): void } {
  const now = mode.now ?? (() => performance.now() / 1000);
  let multibar: cliProgress.MultiBar | undefined;
  let overall: cliProgress.SingleBar | undefined;
  const bars = new Map<string, cliProgress.SingleBar>();
  let started: number | undefined;
  let done = 0;
  let totalRuns = 0;
  const stop = () => {
    multibar?.stop();
    multibar = undefined;
    overall = undefined;
    bars.clear();
  };
  if (mode.json) return { onProgress: () => {}, stop };
  const tty = io.stderrIsTTY && io.progressStream !== undefined;
  const key = (method: string, seed: number) => `${method}/${seed}`;
  const log = (text: string) => (multibar ? multibar.log(`${text}\n`) : io.stderr(`${text}\n`));
  const finishRun = (runs: number) => {
    done += 1;
    overall?.update(done);
    const eta = remainingSeconds(done, runs, now() - (started ?? now()));
    return `[${done}/${runs}${done < runs ? `, ETA ${formatDuration(eta)}` : ''}]`;
  };
  const onProgress = (event: CompareProgressEvent) => {
    switch (event.type) {
      case 'prepare':
        log(event.message);
        break;
      case 'run-start':
        started ??= now();
        totalRuns = event.runs;
        if (tty) {
          multibar ??= new cliProgress.MultiBar(
            { stream: io.progressStream, hideCursor: true, clearOnComplete: false, format: '{label} |{bar}| {value}/{total} {unit} | {detail} | ETA {eta_formatted}' },
            cliProgress.Presets.shades_classic,
          );
          overall ??= multibar.create(event.runs, done, { label: 'all runs'.padEnd(24), unit: 'runs', detail: '' });
          bars.set(key(event.method, event.seed), multibar.create(event.steps, 0, { label: `${event.method} seed ${event.seed}`.slice(0, 24).padEnd(24), unit: 'steps', detail: 'loss -' }));
        }
        break;
      case 'step':
        bars.get(key(event.method, event.seed))?.update(event.step, { detail: `loss ${event.loss.toFixed(4)}` });
        break;
      case 'run-end': {
        const bar = bars.get(key(event.run.method, event.run.seed));
        if (bar) {
          multibar?.remove(bar);
          bars.delete(key(event.run.method, event.run.seed));
        }
        const score = event.run.score[mode.metric];
        log(`${finishRun(totalRuns)} ${event.run.method} seed ${event.run.seed}: ${mode.metric} ${score === undefined ? '?' : (100 * score).toFixed(1)}, ${event.run.wallSeconds.toFixed(1)} s`);
        break;
      }
      case 'run-failed': {
        const bar = bars.get(key(event.failed.method, event.failed.seed));
        if (bar) {
          multibar?.remove(bar);
          bars.delete(key(event.failed.method, event.failed.seed));
        }
        log(`${finishRun(event.runs)} ${event.failed.method} seed ${event.failed.seed} FAILED: ${event.failed.message.split('\n')[0]}`);
        break;
      }
      case 'throughput':
        log(`throughput ${event.method}: train ${event.trainTokensPerSecond.toFixed(0)} tok/s, inference ${event.inferenceTokensPerSecond.toFixed(0)} tok/s`);
        break;
      case 'memory-point':
        log(`memory ${event.method} batch ${event.batch}: ${(event.peakBytes / 1e6).toFixed(1)} MB`);
        break;
      case 'report':
        stop();
        break;
    }
  };
  return { onProgress, stop };
}
