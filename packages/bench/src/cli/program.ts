import { Command, CommanderError, Option } from 'commander';
import { BACKEND_PREFERENCES, PeftError, defaultRegistry, type MethodRegistry } from '@peftjs/core';
import { loadInstalledMethodFamilies } from '../runner/method-discovery';
import { taskNames } from '../runner/task-catalog';
import { processIo, type CliIo } from './cli-io';
import { runCompareCommand, type CompareCommandOptions } from './compare-command';
import { runMethodsCommand, runTasksCommand } from './list-commands';
import { runEvalCommand, runMergeCommand, runTrainCommand, type EvalCommandOptions, type MergeCommandOptions, type TrainCommandOptions } from './train-command';
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

  const dataOptions = (command: Command) =>
    command
      .option('--text-column <name>', 'column of the text (default sentence)')
      .option('--text-pair-column <name>', 'column of the second text of a pair')
      .option('--label-column <name>', 'column of the label (default label)');

  dataOptions(
    program
      .command('train')
      .description('fine-tune one method, hybrid or composition (a+b) of a Hugging Face BERT on your TSV/JSONL file; checkpoints, resumes, evaluates and saves the adapter')
      .requiredOption('--method <name>', 'a method, hybrid or composition (see `peftjs methods`; e.g. lora, mam, lora+bitfit)')
      .requiredOption('--model <dir>', 'Hugging Face BERT directory (config.json, model.safetensors, tokenizer.json)')
      .requiredOption('--data <file>', 'a GLUE-style .tsv (header row) or .jsonl file; split 80/10/10 (seeded) into train / validation / test')
      .requiredOption('--out <dir>', 'output folder: adapter/, checkpoints/, train-summary.json')
      .option('--config <key=value|file.json>', 'config override (repeatable; for a hybrid prefix the part label: lora.r=4)', (v: string, previous: string[] = []) => [...previous, v])
      .option('--steps <n>', 'optimizer steps (default 300)', (v) => parseInteger('--steps', v), 300)
      .option('--batch-size <n>', 'batch size (default 16)', (v) => parseInteger('--batch-size', v), 16)
      .option('--learning-rate <lr>', 'learning rate (default 3e-3)', (v) => parsePositiveNumber('--learning-rate', v), 3e-3)
      .option('--seed <n>', 'seed of the init, dropout and data order (default 1)', (v) => parseInteger('--seed', v, 0), 1)
      .option('--max-length <n>', 'longest input in tokens (default 128)', (v) => parseInteger('--max-length', v))
      .option('--labels <labels>', 'the allowed labels in id order (default: those in the file, sorted)', (v) => parseNameList('--labels', v))
      .option('--eval-every <n>', 'evaluate on the validation split every n steps (default: 4 times per run)', (v) => parseInteger('--eval-every', v))
      .option('--checkpoint-every <n>', 'save a checkpoint every n steps (default 50)', (v) => parseInteger('--checkpoint-every', v), 50)
      .option('--resume', 'continue from the newest checkpoint in <out>/checkpoints', false)
      .addOption(backendOption())
      .option('--json', 'print the summary as JSON (no progress output)', false),
  ).action(async (options: TrainCommandOptions) => {
    await runTrainCommand(options, io, registry);
  });

  dataOptions(
    program
      .command('eval')
      .description('score a saved adapter on every row of a TSV/JSONL file')
      .requiredOption('--model <dir>', 'the base Hugging Face BERT directory the adapter was trained on')
      .requiredOption('--adapter <dir>', 'the adapter folder (e.g. <out>/adapter of `peftjs train`)')
      .requiredOption('--data <file>', 'a .tsv or .jsonl file with labels')
      .option('--batch-size <n>', 'batch size (default 32)', (v) => parseInteger('--batch-size', v), 32)
      .addOption(backendOption())
      .option('--json', 'print JSON', false),
  ).action(async (options: EvalCommandOptions) => {
    await runEvalCommand(options, io, registry);
  });

  program
    .command('merge')
    .description('fold a saved adapter into the base weights and write a merged Hugging Face BERT checkpoint')
    .requiredOption('--model <dir>', 'the base Hugging Face BERT directory')
    .requiredOption('--adapter <dir>', 'the adapter folder')
    .requiredOption('--out <dir>', 'where to write config.json, model.safetensors and tokenizer.json')
    .addOption(backendOption())
    .action(async (options: MergeCommandOptions) => {
      await runMergeCommand(options, io, registry);
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
