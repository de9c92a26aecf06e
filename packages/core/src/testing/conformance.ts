import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { loadPeft } from '../method/load-peft';
import { peft, type PeftModel } from '../method/peft-model';
import { createRegistry } from '../method/registry';
import type { MethodConfig, PeftMethod } from '../method/types';
import type { Batch } from '../models/types';
import type { Parameter } from '../nn/parameter';
import { tf } from '../nn/tf';
import { SeedStream } from '../util/random';
import { conformanceBatch, createConformanceBert, disposeBatch, type ConformanceModel } from './conformance-fixtures';

/** One row of the conformance table: a method (or a composition) and what it promises. */
export interface ConformanceCase {
  /** Shown in the test names. */
  name: string;
  /** The configured methods to apply, in order. Called once per check (fresh configs). */
  methods: () => MethodConfig[];
  /** Builds the base model; must give identical weights on every call. Default: a tiny BERT classifier. */
  createModel?: () => ConformanceModel;
  /** The method leaves outputs unchanged at init (LoRA with B = 0, scales at 1, ...). Default true. */
  identityAtInit?: boolean;
  /** The method can merge into the base weights. When false, merge must throw 'not-mergeable'. Default true. */
  mergeable?: boolean;
  /** disable() gives back the base model's outputs. Default true. */
  supportsDisable?: boolean;
  /** Configs that must be rejected with an 'invalid-config' error naming `field`. */
  invalidConfigs?: ReadonlyArray<{ method: PeftMethod<any>; config: unknown; field: string }>;
  /**
   * Moves the method away from its init so merge/save checks are not trivially satisfied.
   * Default: adds seeded noise (std 0.1) to every trainable parameter.
   */
  perturb?: (model: PeftModel<ConformanceModel>) => void;
  /** Absolute tolerance on logits. Default 1e-5. */
  tolerance?: number;
  /**
   * How far `perturb` must move the outputs (max |Δ| over logits and hidden states) before the merge,
   * disable and save/load checks compare anything: a perturbation that leaves the outputs where they
   * were makes those checks pass whatever the method does. Default 100 × tolerance.
   */
  minimumPerturbationEffect?: number;
}

/** The name of one conformance check (what `conformanceChecks` returns and `describeConformance` registers). */
export type ConformanceCheckId =
  | 'identity-at-init'
  | 'trains-declared-parameters'
  | 'no-tensor-leak'
  | 'merge-parity'
  | 'refuses-merge'
  | 'disable-enable'
  | 'save-load'
  | 'rejects-invalid-config';

/** One conformance check, runnable without vitest's `it` (the suite's self-test runs them against broken methods). */
export interface ConformanceCheck {
  readonly id: ConformanceCheckId;
  /** The test name `describeConformance` registers it under. */
  readonly name: string;
  /** Throws (a vitest assertion error) when the method fails the check. */
  run(): void | Promise<void>;
}

/**
 * Logits and last hidden states: the conformance model's logits are small, so the hidden states
 * make the comparisons sensitive.
 */
function outputsOf(model: { forward(batch: Batch): { logits: tf.Tensor; lastHiddenState: tf.Tensor; promptLength?: number } }, batch: Batch): Float32Array {
  return tf.tidy(() => {
    const output = model.forward(batch);
    // With soft-prompt positions the hidden states have more rows than the base model's: compare logits then.
    if (output.promptLength) return output.logits.dataSync() as Float32Array;
    return tf.concat([output.logits.flatten(), output.lastHiddenState.flatten()]).dataSync() as Float32Array;
  });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function defaultPerturb(model: PeftModel<ConformanceModel>): void {
  const random = new SeedStream(99);
  for (const parameter of model.trainableParameters()) {
    tf.tidy(() => parameter.assign(tf.add(parameter.value, tf.randomNormal(parameter.shape, 0, 0.1, 'float32', random.nextSeed()))));
  }
}

/** The stored values (the variables: what an optimizer step or a merge writes, not a method's substituted value). */
function snapshot(parameters: readonly Parameter[]): Float32Array[] {
  return parameters.map((parameter) => parameter.variable.dataSync().slice() as Float32Array);
}

/** One plain SGD step over the trainable parameters, with the method hooks that touch gradients. */
function sgdStep(model: PeftModel<ConformanceModel>, batch: Batch, learningRate: number): void {
  const parameters = model.trainableParameters();
  const methods = model.appliedMethods();
  const { value, grads } = tf.variableGrads(
    () =>
      tf.tidy(() => {
        let loss = model.taskLoss(model.forward(batch), batch.labels!, batch.attentionMask);
        for (const method of methods) if (method.regularization) loss = tf.add(loss, method.regularization());
        return loss as tf.Scalar;
      }),
    parameters.map((p) => p.variable),
  );
  let gradients = new Map(parameters.map((p) => [p, grads[p.variable.name]!] as const));
  for (const method of methods) {
    if (!method.transformGradients) continue;
    const next = method.transformGradients(gradients);
    for (const [parameter, gradient] of gradients) if (next.get(parameter) !== gradient) gradient.dispose();
    gradients = next;
  }
  for (const [parameter, gradient] of gradients) tf.tidy(() => parameter.assign(tf.sub(parameter.value, tf.mul(gradient, learningRate))));
  for (const method of methods) method.afterStep?.({ step: 1, totalSteps: 1, gradients });
  tf.dispose([value, ...gradients.values()]);
}

/**
 * The checks every method must pass (STYLE.md §7), as plain functions that throw on failure:
 * identity at init where promised, merge/unmerge parity, enable/disable, save/load round trip, only
 * the declared parameters train, no tensor leak across steps, and clear errors on bad config. Checks
 * that compare a perturbed method first require the perturbation to have moved the outputs.
 * `describeConformance` registers them with vitest; call this directly to run them yourself.
 */
export function conformanceChecks(testCase: ConformanceCase): ConformanceCheck[] {
  const createModel = testCase.createModel ?? (() => createConformanceBert());
  const tolerance = testCase.tolerance ?? 1e-5;
  const minimumEffect = testCase.minimumPerturbationEffect ?? 100 * tolerance;
  const perturb = testCase.perturb ?? defaultPerturb;

  interface Context {
    base: ConformanceModel;
    tuned: PeftModel<ConformanceModel>;
    batch: Batch;
    baseLogits: Float32Array;
  }

  function setup(): Context {
    const base = createModel();
    base.eval();
    const batch = conformanceBatch(base);
    const baseLogits = outputsOf(base, batch);
    const tuned = peft(base, testCase.methods());
    tuned.model.eval();
    return { base, tuned, batch, baseLogits };
  }

  function teardown(context: Context): void {
    disposeBatch(context.batch);
    context.base.dispose();
  }

  async function withContext(check: (context: Context) => void | Promise<void>): Promise<void> {
    const context = setup();
    try {
      await check(context);
    } finally {
      teardown(context);
    }
  }

  /** Perturbs the method and requires the outputs to move by at least `minimumEffect`; returns the perturbed outputs. */
  function perturbAndRequireEffect(context: Context): Float32Array {
    const before = outputsOf(context.tuned, context.batch);
    perturb(context.tuned);
    const after = outputsOf(context.tuned, context.batch);
    expect(
      maxAbsDiff(after, before),
      `the perturbation must move the outputs by at least ${minimumEffect} (minimumPerturbationEffect), or the checks after it compare nothing`,
    ).toBeGreaterThanOrEqual(minimumEffect);
    return after;
  }

  const checks: ConformanceCheck[] = [];
  const add = (id: ConformanceCheckId, name: string, run: () => void | Promise<void>) => checks.push({ id, name, run });

  if (testCase.identityAtInit ?? true) {
    add('identity-at-init', 'leaves the outputs unchanged at init', () =>
      withContext((context) => {
        expect(maxAbsDiff(outputsOf(context.tuned, context.batch), context.baseLogits)).toBeLessThanOrEqual(tolerance);
      }),
    );
  }

  add('trains-declared-parameters', 'trains exactly the parameters its methods declare', () =>
    withContext((context) => {
      const declared = new Set(context.tuned.appliedMethods().flatMap((method) => method.parameters()));
      const everything = context.tuned.model.parameters();
      const trainable = everything.filter((parameter) => parameter.trainable);
      expect(declared.size).toBeGreaterThan(0);
      expect(new Set(trainable)).toEqual(declared);
      perturb(context.tuned);
      const frozen = everything.filter((parameter) => !declared.has(parameter));
      const frozenBefore = snapshot(frozen);
      const declaredList = [...declared];
      const declaredBefore = snapshot(declaredList);
      context.tuned.model.train();
      sgdStep(context.tuned, context.batch, 0.5);
      snapshot(frozen).forEach((after, i) => expect(maxAbsDiff(after, frozenBefore[i]!)).toBe(0));
      const moved = snapshot(declaredList).map((after, i) => maxAbsDiff(after, declaredBefore[i]!));
      expect(moved.filter((delta) => delta > 0).length).toBeGreaterThan(0);
    }),
  );

  add('no-tensor-leak', 'keeps tf.memory().numTensors flat across training steps', () =>
    withContext((context) => {
      perturb(context.tuned);
      context.tuned.model.train();
      sgdStep(context.tuned, context.batch, 0.01);
      const after1 = tf.memory().numTensors;
      sgdStep(context.tuned, context.batch, 0.01);
      sgdStep(context.tuned, context.batch, 0.01);
      expect(tf.memory().numTensors).toBe(after1);
    }),
  );

  if (testCase.mergeable ?? true) {
    add('merge-parity', 'gives the same outputs merged and unmerged, and restores the base weights on unmerge', () =>
      withContext((context) => {
        const unmergedOutputs = perturbAndRequireEffect(context);
        const baseParameters = context.base.parameters().filter((parameter) => context.tuned.isBaseParameter(parameter));
        const baseBefore = snapshot(baseParameters);
        context.tuned.merge();
        expect(context.tuned.isMerged).toBe(true);
        expect(maxAbsDiff(outputsOf(context.tuned, context.batch), unmergedOutputs)).toBeLessThanOrEqual(tolerance);
        context.tuned.unmerge();
        expect(maxAbsDiff(outputsOf(context.tuned, context.batch), unmergedOutputs)).toBeLessThanOrEqual(tolerance);
        snapshot(baseParameters).forEach((after, i) => expect(maxAbsDiff(after, baseBefore[i]!)).toBeLessThanOrEqual(1e-5));
      }),
    );
  } else {
    add('refuses-merge', 'refuses to merge with a not-mergeable error', () =>
      withContext((context) => {
        expect(() => context.tuned.merge()).toThrowError(expect.objectContaining({ code: 'not-mergeable' }));
      }),
    );
  }

  if (testCase.supportsDisable ?? true) {
    add('disable-enable', 'gives the base outputs when disabled and its own when enabled again', () =>
      withContext((context) => {
        const tunedLogits = perturbAndRequireEffect(context);
        expect(maxAbsDiff(tunedLogits, context.baseLogits), 'the perturbed method must differ from the base model').toBeGreaterThanOrEqual(minimumEffect);
        context.tuned.disable();
        expect(maxAbsDiff(outputsOf(context.tuned, context.batch), context.baseLogits)).toBeLessThanOrEqual(tolerance);
        context.tuned.enable();
        expect(maxAbsDiff(outputsOf(context.tuned, context.batch), tunedLogits)).toBeLessThanOrEqual(tolerance);
      }),
    );
  }

  add('save-load', 'saves and loads onto a fresh base model with identical outputs', () =>
    withContext(async (context) => {
      const tunedLogits = perturbAndRequireEffect(context);
      const dir = await mkdtemp(join(tmpdir(), 'peftjs-conformance-'));
      try {
        await context.tuned.save(dir);
        const registry = createRegistry(testCase.methods().map((config) => config.method));
        const fresh = createModel();
        try {
          fresh.eval();
          const loaded = await loadPeft(fresh, dir, { registry });
          loaded.model.eval();
          expect(maxAbsDiff(outputsOf(loaded, context.batch), tunedLogits)).toBeLessThanOrEqual(tolerance);
          expect(loaded.trainableParameters().reduce((n, p) => n + p.size, 0)).toBe(
            context.tuned.trainableParameters().reduce((n, p) => n + p.size, 0),
          );
        } finally {
          fresh.dispose();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
  );

  for (const invalid of testCase.invalidConfigs ?? []) {
    add('rejects-invalid-config', `rejects the config ${JSON.stringify(invalid.config)} naming ${invalid.field}`, () => {
      let caught: unknown;
      try {
        invalid.method(invalid.config as never);
      } catch (error) {
        caught = error;
      }
      expect(caught, 'the config was accepted').toBeDefined();
      expect(PeftError.hasCode(caught, 'invalid-config')).toBe(true);
      expect((caught as PeftError).field).toContain(invalid.field);
      expect((caught as PeftError).message).toContain(invalid.field);
    });
  }
  return checks;
}

/**
 * Registers, with vitest, the checks of `conformanceChecks` under `conformance: <name>`.
 *
 * @example
 * describeConformance({ name: 'channel-scale', methods: () => [channelScale({ targets: { roles: ['ffn.down'] } })] });
 */
export function describeConformance(testCase: ConformanceCase): void {
  const checks = conformanceChecks(testCase);
  describe(`conformance: ${testCase.name}`, () => {
    for (const check of checks) it(check.name, () => check.run());
  });
}
