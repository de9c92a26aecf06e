import { z } from 'zod';
import { PeftError } from '../errors/peft-error';
import { ACTIVATIONS } from '../nn/activations';

const positiveInt = z.number().int().positive();
const probability = z.number().min(0).lt(1);

/** Tasks the BERT-style encoder has heads for. */
export const BERT_TASKS = ['sequence-classification', 'regression', 'token-classification', 'masked-lm'] as const;
export type BertTask = (typeof BERT_TASKS)[number];

/** Tasks the GPT-2-style decoder has heads for. */
export const GPT_TASKS = ['causal-lm', 'sequence-classification', 'regression'] as const;
export type GptTask = (typeof GPT_TASKS)[number];

/** The architecture fields both reference models share. Defaults are small, for tests and demos. */
function transformerFields(defaults: {
  activation: (typeof ACTIVATIONS)[number];
  layerNormEps: number;
  preLayerNorm: boolean;
  typeVocabSize: number;
}) {
  return {
    /** Token vocabulary size (rows of the word embedding table). */
    vocabSize: positiveInt.default(1000),
    /** Width of every hidden state (d_model). Must be divisible by numHeads. */
    hiddenSize: positiveInt.default(64),
    /** Number of transformer blocks. */
    numLayers: positiveInt.default(2),
    /** Attention heads per block; headDim = hiddenSize / numHeads. */
    numHeads: positiveInt.default(4),
    /** Inner width of the feed-forward sublayer. Default: 4 × hiddenSize. */
    intermediateSize: positiveInt.optional(),
    /** Rows of the learned position table: the longest sequence (prompt and prefix included). */
    maxPositions: positiveInt.default(128),
    /** Token-type (segment) vocabulary; 0 means the model has no token-type embedding. */
    typeVocabSize: z.number().int().min(0).default(defaults.typeVocabSize),
    /** Epsilon of every LayerNorm (BERT 1e-12, GPT-2 1e-5). */
    layerNormEps: z.number().positive().default(defaults.layerNormEps),
    /** Dropout after embeddings, after each sublayer's output projection, and before classifiers. */
    hiddenDropout: probability.default(0.1),
    /** Dropout on the attention probabilities. */
    attentionDropout: probability.default(0.1),
    /** Feed-forward activation (BERT `gelu` = erf form, GPT-2 `gelu_new` = tanh form). */
    activation: z.enum(ACTIVATIONS).default(defaults.activation),
    /** Pre-LN blocks (GPT-2: x + f(LN(x)), plus a final LayerNorm) instead of post-LN (BERT: LN(x + f(x))). */
    preLayerNorm: z.boolean().default(defaults.preLayerNorm),
    /** Std of the normal initialisation of weights and embeddings. */
    initStd: z.number().positive().default(0.02),
  };
}

/** hiddenSize must split evenly into heads. */
function refineHeads<T extends { hiddenSize: number; numHeads: number }>(config: T, context: z.RefinementCtx<T>): void {
  if (config.hiddenSize % config.numHeads !== 0) {
    context.addIssue({
      code: 'custom',
      path: ['numHeads'],
      message: `hiddenSize (${config.hiddenSize}) must be divisible by numHeads`,
      input: config.numHeads,
    });
  }
}

/** numLabels only means something for tasks with a label head. */
function refineLabels<T extends { task: string; numLabels?: number | undefined }>(config: T, context: z.RefinementCtx<T>): void {
  if (config.task === 'regression' || config.task === 'sequence-classification' || config.task === 'token-classification') return;
  if (config.numLabels !== undefined) {
    context.addIssue({ code: 'custom', path: ['numLabels'], message: `numLabels applies to classification and regression tasks, not ${config.task}`, input: config.numLabels });
  }
}

/** Configuration of the BERT-style encoder (post-LN, erf GELU, LN eps 1e-12 by default). */
export const BertConfigSchema = z
  .strictObject({
    ...transformerFields({ activation: 'gelu', layerNormEps: 1e-12, preLayerNorm: false, typeVocabSize: 2 }),
    /** The task head. */
    task: z.enum(BERT_TASKS).default('sequence-classification'),
    /** Classes (classification) or outputs (regression). Default 2, or 1 for regression. */
    numLabels: positiveInt.optional(),
  })
  .superRefine(refineHeads)
  .superRefine(refineLabels)
  .transform((config) => ({
    ...config,
    intermediateSize: config.intermediateSize ?? 4 * config.hiddenSize,
    numLabels: config.numLabels ?? (config.task === 'regression' ? 1 : 2),
  }));

/** Configuration of the GPT-2-style decoder (pre-LN, tanh GELU, LN eps 1e-5 by default). */
export const GptConfigSchema = z
  .strictObject({
    ...transformerFields({ activation: 'gelu_new', layerNormEps: 1e-5, preLayerNorm: true, typeVocabSize: 0 }),
    /** Dropout on the embedding sum (GPT-2's `embd_pdrop`). Default: hiddenDropout. */
    embeddingDropout: probability.optional(),
    /** The task head. */
    task: z.enum(GPT_TASKS).default('causal-lm'),
    /** Classes (classification) or outputs (regression). Default 2, or 1 for regression. */
    numLabels: positiveInt.optional(),
  })
  .superRefine(refineHeads)
  .superRefine(refineLabels)
  .superRefine((config, context) => {
    if (config.typeVocabSize !== 0) {
      context.addIssue({ code: 'custom', path: ['typeVocabSize'], message: 'the GPT-2 reference model has no token-type embedding; use 0', input: config.typeVocabSize });
    }
  })
  .transform((config) => ({
    ...config,
    intermediateSize: config.intermediateSize ?? 4 * config.hiddenSize,
    embeddingDropout: config.embeddingDropout ?? config.hiddenDropout,
    numLabels: config.numLabels ?? (config.task === 'regression' ? 1 : 2),
  }));

/** What `createBert` accepts: every field optional. */
export type BertConfigInput = z.input<typeof BertConfigSchema>;
/** A validated, complete, immutable BERT config. */
export type BertConfig = Readonly<z.output<typeof BertConfigSchema>>;
/** What `createGpt` accepts: every field optional. */
export type GptConfigInput = z.input<typeof GptConfigSchema>;
/** A validated, complete, immutable GPT config. */
export type GptConfig = Readonly<z.output<typeof GptConfigSchema>>;

/** Validates a BERT config and fills defaults; a bad value is a PeftError('invalid-config') naming the field. */
export function parseBertConfig(input: BertConfigInput = {}): BertConfig {
  return Object.freeze(parseWith(BertConfigSchema, input, 'BertConfig'));
}

/** Validates a GPT config and fills defaults; a bad value is a PeftError('invalid-config') naming the field. */
export function parseGptConfig(input: GptConfigInput = {}): GptConfig {
  return Object.freeze(parseWith(GptConfigSchema, input, 'GptConfig'));
}

function parseWith<S extends z.ZodType>(schema: S, input: unknown, name: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const unknownKey = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const field = unknownKey ?? issue?.path.map(String).join('.') ?? '';
  const value = field && typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[field] : input;
  const allowed =
    issue?.code === 'invalid_value' ? issue.values.map(String) : unknownKey !== undefined ? 'only the documented config fields' : (issue?.message ?? 'a valid value');
  throw new PeftError('invalid-config', `${name}.${field || '(root)'}: ${issue?.message ?? 'invalid value'}.`, { field, value, allowed });
}
