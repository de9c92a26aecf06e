import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { PeftError } from '../errors/peft-error';
import { loadSafetensors, saveSafetensors } from '../io/safetensors-file';
import type { tf } from '../nn/tf';
import type { AdamWState } from './adamw';

const FORMAT = 'peftjs-training-checkpoint';
const FILE_PATTERN = /^checkpoint-(\d+)\.safetensors$/;

/** Everything besides tensors that a resumed run needs to continue exactly. */
export const trainerStateSchema = z.object({
  formatVersion: z.literal(1),
  /** Optimizer steps done; also the schedule's position. */
  step: z.number().int().nonnegative(),
  totalSteps: z.number().int().nonnegative(),
  seed: z.number(),
  /** Where in the data the next step starts: the epoch, micro-batches of it already used, and the data-order stream's state at the epoch's start. */
  epoch: z.number().int().nonnegative(),
  batchInEpoch: z.number().int().nonnegative(),
  dataStreamState: z.number().int().nonnegative(),
  /** State of the global seed stream (dropout and method randomness). */
  globalSeedState: z.number().int().nonnegative(),
  /** Names of the trained parameters, in optimizer order. */
  parameterNames: z.array(z.string()),
  /** AdamW's per-parameter update counts. */
  optimizerSteps: z.record(z.string(), z.number().int().positive()),
  /** Names of the applied methods whose state is saved, in order. */
  methods: z.array(z.string()),
  /** Loss of each step so far, so a resumed run reports the whole history. */
  losses: z.array(z.number()),
});
export type TrainerState = z.infer<typeof trainerStateSchema>;

/** A training checkpoint's content. Tensors passed to `saveTrainingCheckpoint` stay the caller's. */
export interface TrainingCheckpoint {
  state: TrainerState;
  /** Trained parameter values by name. */
  parameters: Record<string, tf.Tensor>;
  optimizer: AdamWState;
  /** Each applied method's `state()`, in method order. */
  methodStates: Array<Record<string, tf.Tensor>>;
}

/** The file a checkpoint of this step is written to. */
export function checkpointPath(directory: string, step: number): string {
  return join(directory, `checkpoint-${step}.safetensors`);
}

/**
 * Writes a checkpoint as one safetensors file (`checkpoint-<step>.safetensors`), atomically:
 * a crash leaves the previous checkpoints intact and never a torn file. Tensor keys are
 * `parameter/<name>`, `optimizer/<name>.exp_avg[_sq]` and `method/<index>/<key>`; the trainer
 * state is JSON in the metadata. With `keepLast`, older checkpoints beyond that many are removed.
 */
export async function saveTrainingCheckpoint(directory: string, checkpoint: TrainingCheckpoint, keepLast?: number): Promise<string> {
  await mkdir(directory, { recursive: true });
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, tensor] of Object.entries(checkpoint.parameters)) tensors[`parameter/${name}`] = tensor;
  for (const [key, tensor] of Object.entries(checkpoint.optimizer.tensors)) tensors[`optimizer/${key}`] = tensor;
  checkpoint.methodStates.forEach((state, index) => {
    for (const [key, tensor] of Object.entries(state)) tensors[`method/${index}/${key}`] = tensor;
  });
  const state: TrainerState = { ...checkpoint.state, optimizerSteps: checkpoint.optimizer.steps };
  const path = checkpointPath(directory, state.step);
  await saveSafetensors(path, tensors, { format: FORMAT, trainer_state: JSON.stringify(state) });
  if (keepLast !== undefined) {
    const older = (await listCheckpoints(directory)).filter((entry) => entry.step !== state.step);
    for (const entry of older.slice(0, Math.max(0, older.length + 1 - keepLast))) await unlink(entry.path);
  }
  return path;
}

/** Reads a checkpoint written by `saveTrainingCheckpoint`. The tensors belong to the caller. */
export async function loadTrainingCheckpoint(path: string): Promise<TrainingCheckpoint> {
  const { tensors, metadata } = await loadSafetensors(path);
  try {
    if (metadata.format !== FORMAT || metadata.trainer_state === undefined) {
      throw new PeftError('checkpoint-mismatch', `${path} is not a peftjs training checkpoint (metadata format ${String(metadata.format)}).`, {
        field: 'metadata.format',
        value: metadata.format,
        allowed: [FORMAT],
      });
    }
    const parsed = trainerStateSchema.safeParse(JSON.parse(metadata.trainer_state));
    if (!parsed.success) {
      throw new PeftError('checkpoint-mismatch', `${path} has an invalid trainer state: ${parsed.error.message}`, { field: 'metadata.trainer_state', value: metadata.trainer_state, allowed: 'a state written by this version' });
    }
    const checkpoint: TrainingCheckpoint = { state: parsed.data, parameters: {}, optimizer: { tensors: {}, steps: parsed.data.optimizerSteps }, methodStates: parsed.data.methods.map(() => ({})) };
    for (const [key, tensor] of Object.entries(tensors)) {
      const [kind, ...rest] = key.split('/');
      if (kind === 'parameter') checkpoint.parameters[rest.join('/')] = tensor;
      else if (kind === 'optimizer') checkpoint.optimizer.tensors[rest.join('/')] = tensor;
      else if (kind === 'method' && checkpoint.methodStates[Number(rest[0])]) checkpoint.methodStates[Number(rest[0])]![rest.slice(1).join('/')] = tensor;
      else throw new PeftError('checkpoint-mismatch', `${path} has an unexpected tensor "${key}".`, { field: 'tensors', value: key, allowed: 'parameter/*, optimizer/*, method/<index>/*' });
    }
    return checkpoint;
  } catch (error) {
    for (const tensor of Object.values(tensors)) tensor.dispose();
    throw error;
  }
}

/** The checkpoints in a directory, oldest step first (none when the directory does not exist). */
export async function listCheckpoints(directory: string): Promise<Array<{ step: number; path: string }>> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .map((name) => ({ name, match: FILE_PATTERN.exec(name) }))
    .filter((entry) => entry.match !== null)
    .map((entry) => ({ step: Number(entry.match![1]), path: join(directory, entry.name) }))
    .sort((a, b) => a.step - b.step);
}

/** The path of the newest checkpoint in a directory, or undefined. */
export async function latestCheckpoint(directory: string): Promise<string | undefined> {
  return (await listCheckpoints(directory)).at(-1)?.path;
}
