import { defaultRegistry, initBackend, type BackendPreference, type MethodRegistry } from '@peftjs/core';
import { formatBytes } from '../report/format-numbers';
import { memorySweep, type MemorySweepResult } from '../runner/memory-sweep';
import { resolveMethodRuns } from '../runner/method-spec';
import { findTask, subsetTask } from '../runner/task-catalog';
import { backboneFor } from './backbone-option';
import type { CliIo } from './cli-io';
import { DEFAULT_METHODS, DEFAULT_PRESET, DEFAULT_TASK, SMOKE_PRESET } from './presets';

export interface MemoryCommandOptions {
  task?: string;
  methods?: string[];
  batchSizes?: number[];
  backend: BackendPreference;
  model?: string;
  scratch?: boolean;
  smoke: boolean;
  json: boolean;
}

/** Runs `peftjs memory`: peak step memory per method and batch size, as a table (or JSON). */
export async function runMemoryCommand(options: MemoryCommandOptions, io: CliIo, registry: MethodRegistry = defaultRegistry): Promise<MemorySweepResult> {
  const preset = options.smoke ? SMOKE_PRESET : DEFAULT_PRESET;
  const methods = resolveMethodRuns(options.methods ?? DEFAULT_METHODS.filter((name) => name === 'full' || registry.has(name)), registry, '--methods');
  const entry = findTask(options.task ?? DEFAULT_TASK, '--task');
  const info = await initBackend({ prefer: options.backend });
  const batchSizes = options.batchSizes ?? preset.memoryBatchSizes;
  const task = subsetTask(entry.build(), { train: Math.max(...batchSizes), validation: 1, test: 1 });
  const result = await memorySweep({ methods, batchSizes, task, backbone: await backboneFor(options, preset), registry });
  if (options.json) {
    io.stdout(`${JSON.stringify({ backend: info.backend, ...result }, null, 2)}\n`);
    return result;
  }
  const sorted = [...batchSizes].sort((a, b) => a - b);
  const rows = methods.map((method) => [
    method.name,
    ...sorted.map((batch) => {
      const point = result.points.find((p) => p.method === method.name && p.batch === batch);
      return point ? formatBytes(point.peakBytes) : 'did not fit';
    }),
  ]);
  const header = ['method', ...sorted.map((batch) => `batch ${batch}`)];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  io.stdout(`Peak memory of one training step (${info.backend}, ${task.name}, sequence length <= ${preset.backbone.maxLength})\n${line(header)}\n${rows.map(line).join('\n')}\n`);
  for (const stop of result.stopped) io.stderr(`${stop.method} stopped at batch ${stop.batch}: ${stop.reason}\n`);
  return result;
}
