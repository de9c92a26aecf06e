import { defaultRegistry, type MethodRegistry } from '@peftjs/core';
import { listMethods, unregisteredBuiltinMethods } from '../runner/method-discovery';
import { BENCH_TASKS, findTask } from '../runner/task-catalog';
import { buildTaskCard, formatTaskCard } from '../tasks/task-card';
import type { CliIo } from './cli-io';

/** `peftjs methods`: every registered method with its package and kind, and the known ones not installed. */
export function runMethodsCommand(options: { json: boolean }, io: CliIo, registry: MethodRegistry = defaultRegistry): void {
  const methods = listMethods(registry);
  const missing = unregisteredBuiltinMethods(registry);
  if (options.json) {
    io.stdout(`${JSON.stringify({ methods, notInstalled: missing }, null, 2)}\n`);
    return;
  }
  const nameWidth = Math.max(6, ...methods.map((method) => method.name.length));
  const packageWidth = Math.max(7, ...methods.map((method) => method.packageName.length));
  const kindWidth = Math.max(4, ...methods.map((method) => method.kind.length));
  const line = (name: string, packageName: string, kind: string, description: string) =>
    `${name.padEnd(nameWidth)}  ${packageName.padEnd(packageWidth)}  ${kind.padEnd(kindWidth)}  ${description}`.trimEnd();
  const describe = (m: (typeof methods)[number]) => (m.needs ? `${m.description} (needs ${m.needs.join(', ')})` : m.description);
  const lines = [line('method', 'package', 'kind', 'description'), ...methods.map((m) => line(m.name, m.packageName, m.kind, describe(m)))];
  if (missing.length) {
    const byPackage = new Map<string, string[]>();
    for (const { name, packageName } of missing) byPackage.set(packageName, [...(byPackage.get(packageName) ?? []), name]);
    lines.push('', 'Known but not registered (install the package to add them):', ...[...byPackage].map(([packageName, names]) => `  ${packageName}: ${names.join(', ')}`));
  }
  io.stdout(`${lines.join('\n')}\n`);
}

/** `peftjs tasks [name]`: the built-in tasks with their cards (examples per split and label, baselines). */
export function runTasksCommand(options: { name?: string; json: boolean }, io: CliIo): void {
  const entries = options.name === undefined ? BENCH_TASKS : [findTask(options.name, 'name')];
  const cards = entries.map((entry) => ({ name: entry.name, summary: entry.summary, card: buildTaskCard(entry.build()) }));
  if (options.json) {
    io.stdout(`${JSON.stringify(cards, null, 2)}\n`);
    return;
  }
  io.stdout(`${cards.map(({ name, summary, card }) => `## ${name}: ${summary}\n\n${formatTaskCard(card)}`).join('\n\n')}\n`);
}
