import cliProgress from 'cli-progress';
import type { CompareProgressEvent } from '../runner/compare-methods';
import type { CliIo } from './cli-io';

/**
 * Turns comparison events into a progress bar per run on a terminal, or one line per finished run
 * otherwise (logs stay readable in CI). Silent in JSON mode. Everything goes to stderr, so stdout
 * carries only the table (or the JSON).
 */
export function progressReporter(io: CliIo, mode: { json: boolean; metric: string }): { onProgress: (event: CompareProgressEvent) => void; stop(): void } {
  let bar: cliProgress.SingleBar | undefined;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  if (mode.json) return { onProgress: () => {}, stop };
  const onProgress = (event: CompareProgressEvent) => {
    switch (event.type) {
      case 'prepare':
        io.stderr(`${event.message}\n`);
        break;
      case 'run-start':
        if (io.stderrIsTTY && io.progressStream) {
          bar = new cliProgress.SingleBar(
            {
              format: `run ${event.run}/${event.runs} {method} seed {seed} |{bar}| {value}/{total} steps | loss {loss} | {duration_formatted}`,
              stream: io.progressStream,
              hideCursor: true,
              clearOnComplete: false,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(event.steps, 0, { method: event.method, seed: event.seed, loss: '-' });
        }
        break;
      case 'step':
        bar?.update(event.step, { loss: event.loss.toFixed(4) });
        break;
      case 'run-end': {
        stop();
        const score = event.run.score[mode.metric];
        io.stderr(`${event.run.method} seed ${event.run.seed}: ${mode.metric} ${score === undefined ? '?' : (100 * score).toFixed(1)}, ${event.run.wallSeconds.toFixed(1)} s\n`);
        break;
      }
      case 'memory-point':
        io.stderr(`memory ${event.method} batch ${event.batch}: ${(event.peakBytes / 1e6).toFixed(1)} MB\n`);
        break;
      case 'report':
        break;
    }
  };
  return { onProgress, stop };
}
