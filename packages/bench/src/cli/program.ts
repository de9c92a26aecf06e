import { Command, CommanderError, Option } from 'commander';
import { BACKEND_PREFERENCES, PeftError, defaultRegistry, type MethodRegistry } from '@peftjs/core';
import { loadInstalledMethodFamilies } from '../runner/method-discovery';
import { taskNames } from '../runner/task-catalog';
import { processIo, type CliIo } from './cli-io';
import { runCompareCommand, type CompareCommandOptions } from './compare-command';
import { runMethodsCommand, runTasksCommand } from './list-commands';
import { runMemoryCommand, type MemoryCommandOptions } from './memory-command';
import { parseBackend, parseInteger, parseIntegerList, parseNameList, parsePositiveNumber } from './option-parsers';
import { DEFAULT_PRESET, DEFAULT_TASK, SMOKE_PRESET, SUITES } from './presets';
import { defaultJobs } from '../runner/run-pool';

export interface CliContext {
  io?: CliIo;
  /** Methods come from here. Default: core's default registry, after importing the installed family packages. */
  registry?: MethodRegistry;
}

/** Builds the `peftjs` command tree writing to `io`. */
export function createProgram(io: CliIo, registry: MethodRegistry): Command {
  const program = new Command('peftjs')
    .description('Compare parameter-efficient fine-tuning methods on a task: score, trainable and changed parameters, memory and throughput against full fine-tuning.')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError();
  const backendOption = () => new Option('--backend <name>', `tfjs backend (${BACKEND_PREFERENCES.join('|')})`).default('auto').argParser((v) => parseBackend('--backend', v));
  const methodsOption = () => new Option('--methods <names>', 'comma-separated methods (see `peftjs methods`); full fine-tuning is always included').argParser((v) => parseNameList('--methods', v));

  program
    .command('compare')
    .description('fine-tune each method with each seed and print the comparison table; writes results.json, report.md and charts')
    .option('--task <name>', `built-in task (${taskNames().join(', ')}); default ${DEFAULT_TASK}`)
    .addOption(methodsOption())
    .option('--seeds <n>', `seeds per method (default ${DEFAULT_PRESET.seeds}, smoke ${SMOKE_PRESET.seeds})`, (v) => parseInteger('--seeds', v))
    .option('--steps <n>', `optimizer steps per run (default ${DEFAULT_PRESET.steps}, smoke ${SMOKE_PRESET.steps})`, (v) => parseInteger('--steps', v))
    .option('--batch-size <n>', `training batch size (default ${DEFAULT_PRESET.batchSize})`, (v) => parseInteger('--batch-size', v))
    .option('--learning-rate <lr>', 'learning rate of the PEFT methods (default 3e-3)', (v) => parsePositiveNumber('--learning-rate', v))
    .option('--full-learning-rate <lr>', 'learning rate of full fine-tuning (default 3e-4 for a pretrained --model, 3e-3 from scratch)', (v) => parsePositiveNumber('--full-learning-rate', v))
    .addOption(backendOption())
    .option('--model <dir>', 'Hugging Face BERT checkpoint directory (config.json, model.safetensors, tokenizer.json)')
    .option('--scratch', 'start from a random init (of the preset size) instead of the bundled pretrained encoder')
    .option('--data <file>', 'your own task: a GLUE-style .tsv (header row) or .jsonl file')
    .option('--text-column <name>', 'column of the text (with --data)', 'sentence')
    .option('--text-pair-column <name>', 'column of the second text of a pair (with --data)')
    .option('--label-column <name>', 'column of the label (with --data)', 'label')
    .option('--labels <labels>', 'the allowed labels in id order (with --data; default: those in the file)', (v) => parseNameList('--labels', v))
    .option('--memory-batch-sizes <sizes>', `batch sizes of the memory sweep (default ${DEFAULT_PRESET.memoryBatchSizes.join(',')})`, (v) => parseIntegerList('--memory-batch-sizes', v))
    .option('--full-data', 'use every example of the task instead of an even subset')
    .option('--out <dir>', 'report folder (default peftjs-report/<task>-<time>)')
    .option('--smoke', 'a quick run: tiny model, few steps, one seed, small subset', false)
    .option('--suite <name>', `a named set of methods instead of --methods (${SUITES.join('|')}: every registered method and hybrid; failed runs are recorded and the suite goes on)`)
    .option('--jobs <n>', `worker processes for the runs (default: the cores, ${defaultJobs()} here); throughput is then timed one run at a time`, (v) => parseInteger('--jobs', v))
    .option('--json', 'print the results as JSON instead of the table (no progress output)', false)
    .action(async (options: CompareCommandOptions) => {
      await runCompareCommand(options, io, registry);
    });

  program
    .command('memory')
    .description('peak memory of one training step per method and batch size, as far as it fits')
    .option('--task <name>', `built-in task whose examples fill the batches (default ${DEFAULT_TASK})`)
    .addOption(methodsOption())
    .option('--batch-sizes <sizes>', `comma-separated batch sizes (default ${DEFAULT_PRESET.memoryBatchSizes.join(',')})`, (v) => parseIntegerList('--batch-sizes', v))
    .addOption(backendOption())
    .option('--model <dir>', 'Hugging Face BERT checkpoint directory (config.json, model.safetensors, tokenizer.json)')
    .option('--scratch', 'a random init of the preset size instead of the bundled pretrained encoder')
    .option('--smoke', 'tiny model', false)
    .option('--json', 'print JSON', false)
    .action(async (options: MemoryCommandOptions) => {
      await runMemoryCommand(options, io, registry);
    });

  program
    .command('tasks')
    .description('list the built-in tasks with their cards (examples per split and label, baselines)')
    .argument('[name]', 'only this task')
    .option('--json', 'print JSON', false)
    .action((name: string | undefined, options: { json: boolean }) => {
      runTasksCommand({ name, json: options.json }, io);
    });

  program
    .command('methods')
    .description('list the registered methods with their package and kind')
    .option('--json', 'print JSON', false)
    .action((options: { json: boolean }) => {
      runMethodsCommand(options, io, registry);
    });
  return program;
}

/**
 * Runs the CLI on `argv` (without the node and script entries) and returns the exit code: 0 on
 * success, 1 for a bad input or a failed run (the message names the option, the value and what is
 * allowed), commander's code for usage errors.
 */
/**
 * `pnpm bench -- --smoke` forwards a literal `--` before the user's options; commander would read
 * everything after it as positional arguments. A `--` directly after the command name is dropped.
 */
export function withoutForwardingSeparator(argv: readonly string[]): string[] {
  const separator = argv.indexOf('--');
  if (separator < 0 || argv.slice(0, separator).some((arg) => arg.startsWith('-'))) return [...argv];
  return [...argv.slice(0, separator), ...argv.slice(separator + 1)];
}

export async function runCli(argv: readonly string[], context: CliContext = {}): Promise<number> {
  const io = context.io ?? processIo();
  let registry = context.registry;
  if (registry === undefined) {
    await loadInstalledMethodFamilies();
    registry = defaultRegistry;
  }
  try {
    await createProgram(io, registry).parseAsync(withoutForwardingSeparator(argv), { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (PeftError.isInstance(error)) {
      io.stderr(`peftjs: error: ${error.message}\n`);
      return 1;
    }
    io.stderr(`peftjs: error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
