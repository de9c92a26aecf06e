import { describe, expect, it } from 'vitest';
import { differingBits, runCrashResume } from './crash-resume';

describe('a training process killed between two checkpoints and resumed', () => {
  it('ends with the weights and losses of the uninterrupted run, bit for bit (full fine-tuning, dropout, reshuffled epochs)', async () => {
    const outcome = await runCrashResume({ totalSteps: 11, checkpointEvery: 3, killAtStep: 8 });
    // The process really died by SIGKILL after step 8, with steps 7 and 8 trained but not checkpointed.
    expect(outcome.killed).toEqual({ code: null, signal: 'SIGKILL', lastStepSeen: 8 });
    expect(outcome.checkpointsAtKill).toEqual([3, 6]);
    expect(outcome.resumed.resumedFrom).toMatch(/checkpoint-6\.safetensors$/);
    expect([outcome.resumed.step, outcome.uninterrupted.step]).toEqual([11, 11]);
    expect(outcome.resumed.losses).toHaveLength(11);
    expect(outcome.resumed.losses).toEqual(outcome.uninterrupted.losses);
    expect(outcome.uninterrupted.parameters.size).toBeGreaterThan(10);
    expect(differingBits(outcome.resumed.parameters, outcome.uninterrupted.parameters)).toEqual([]);
    // The steps after the checkpoint moved every trained weight, so equality above is not the checkpoint's.
    const sinceCheckpoint = new Map([...outcome.resumed.parameters].filter(([name]) => outcome.checkpointParameters.has(name)));
    expect(sinceCheckpoint.size).toBe(outcome.uninterrupted.parameters.size);
    expect(differingBits(sinceCheckpoint, outcome.checkpointParameters).length).toBeGreaterThan(sinceCheckpoint.size / 2);
  }, 600_000);
});
