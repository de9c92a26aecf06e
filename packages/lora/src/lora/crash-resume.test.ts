import { differingBits, runCrashResume } from '@peftjs/core/testing';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('a LoRA training process killed between two checkpoints and resumed', () => {
  it('ends with the weights and losses of the uninterrupted run, bit for bit (LoRA dropout, a trained head, gradient accumulation)', async () => {
    const outcome = await runCrashResume({
      methods: [
        {
          module: fileURLToPath(new URL('../index.ts', import.meta.url)),
          export: 'lora',
          config: { r: 4, alpha: 8, dropout: 0.2, targets: { roles: ['attention.query', 'attention.value', 'ffn.up'] }, modulesToSave: { roles: ['head'] } },
        },
      ],
      totalSteps: 9,
      checkpointEvery: 4,
      killAtStep: 6,
      gradientAccumulationSteps: 2,
    });
    expect(outcome.killed).toEqual({ code: null, signal: 'SIGKILL', lastStepSeen: 6 });
    expect(outcome.checkpointsAtKill).toEqual([4]);
    expect(outcome.resumed.resumedFrom).toMatch(/checkpoint-4\.safetensors$/);
    expect(outcome.resumed.losses).toHaveLength(9);
    expect(outcome.resumed.losses).toEqual(outcome.uninterrupted.losses);
    const loraNames = [...outcome.uninterrupted.parameters.keys()].filter((name) => /lora/i.test(name));
    expect(loraNames.length).toBeGreaterThanOrEqual(2 * 3 * 2);
    expect(differingBits(outcome.resumed.parameters, outcome.uninterrupted.parameters)).toEqual([]);
    // The trained tensors moved after the checkpoint: the equality above is not the checkpoint's values.
    expect(outcome.checkpointParameters.size).toBeGreaterThan(loraNames.length);
    const trained = new Map([...outcome.resumed.parameters].filter(([name]) => outcome.checkpointParameters.has(name)));
    expect(differingBits(trained, outcome.checkpointParameters).length).toBeGreaterThan(trained.size / 2);
  }, 600_000);
});
