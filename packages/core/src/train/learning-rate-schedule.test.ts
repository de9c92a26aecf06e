import { describe, expect, it } from 'vitest';
import { expectClose } from '../models/test-support';
import { constantSchedule, cosineSchedule, createSchedule, linearSchedule } from './learning-rate-schedule';

const steps = (schedule: (step: number) => number, count: number) => Array.from({ length: count }, (_, step) => schedule(step));

describe('learning-rate schedules', () => {
  it('linear: warmup from 0 then decay to 0, as HF get_linear_schedule_with_warmup', () => {
    // warmup 2, total 6: 0, 0.5, 1, then (6-s)/4: 0.75, 0.5, 0.25, then 0 beyond the end.
    expectClose(steps(linearSchedule({ learningRate: 2, warmupSteps: 2, totalSteps: 6 }), 8), [0, 1, 2, 1.5, 1, 0.5, 0, 0], 1e-12);
    expectClose(steps(linearSchedule({ learningRate: 1, totalSteps: 4 }), 4), [1, 0.75, 0.5, 0.25], 1e-12);
  });

  it('constant: warmup then the peak', () => {
    expectClose(steps(constantSchedule({ learningRate: 0.3, warmupSteps: 3, totalSteps: 10 }), 5), [0, 0.1, 0.2, 0.3, 0.3], 1e-12);
  });

  it('cosine: warmup then half a cosine to 0', () => {
    // warmup 1, total 5: progress (s-1)/4 -> 0.5(1+cos(pi p)): 1, (2+√2)/4, 0.5, (2-√2)/4, 0.
    const expected = [0, 1, (2 + Math.SQRT2) / 4, 0.5, (2 - Math.SQRT2) / 4, 0];
    expectClose(steps(cosineSchedule({ learningRate: 1, warmupSteps: 1, totalSteps: 5 }), 6), expected, 1e-12);
    expectClose(steps(createSchedule('cosine', { learningRate: 1, warmupSteps: 1, totalSteps: 5 }), 6), expected, 1e-12);
  });

  it('rejects invalid options with the field named', () => {
    expect(() => linearSchedule({ learningRate: 1, warmupSteps: 1.5, totalSteps: 3 })).toThrow(expect.objectContaining({ field: 'warmupSteps' }));
    expect(() => createSchedule('step' as never, { learningRate: 1, totalSteps: 3 })).toThrow(expect.objectContaining({ field: 'schedule' }));
  });
});
