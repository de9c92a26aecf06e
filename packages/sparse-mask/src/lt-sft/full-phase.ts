import { AdamW, tf, type CalibrationContext, type Parameter } from '@peftjs/core';

/**
 * LT-SFT's first phase: fine-tunes `parameters` in full (Adam at `learningRate`, no weight decay)
 * for `steps` steps cycling over the calibration batches, returns |θ1 − θ0| per entry of the first
 * `scored` parameters, and puts every parameter back to θ0 bit for bit. Memory: one copy of the
 * parameters plus Adam's two moments for them, released at the end.
 */
export function fullPhaseChanges(calibration: CalibrationContext, parameters: readonly Parameter[], scored: number, steps: number, learningRate: number): Float32Array[] {
  const originals = parameters.map((parameter) => tf.clone(parameter.variable));
  const optimizer = new AdamW(parameters, { learningRate, weightDecay: 0 });
  const variables = parameters.map((parameter) => parameter.variable);
  try {
    for (let step = 0; step < steps; step++) {
      const batch = calibration.batches[step % calibration.batches.length]!;
      const { value, grads } = tf.variableGrads(() => calibration.loss(batch), variables);
      optimizer.step(new Map(parameters.map((parameter) => [parameter, grads[parameter.variable.name]!] as const)));
      tf.dispose([value, ...Object.values(grads)]);
    }
    return parameters.slice(0, scored).map((parameter, i) => tf.tidy(() => Float32Array.from(tf.abs(tf.sub(parameter.variable, originals[i]!)).dataSync() as Float32Array)));
  } finally {
    parameters.forEach((parameter, i) => parameter.assign(originals[i]!));
    tf.dispose(originals);
    optimizer.dispose();
  }
}
