/**
 * What gradient control saves: real peak memory (each buffer once, baseline subtracted) of one
 * training step of a small transformer stack, with the plain tape, with recomputation, and with
 * the frozen part run under noGrad; tf.profile's peakBytes beside each.
 *
 *   pnpm exec tsx packages/core/scripts/grad-memory.ts [--backend=auto|wasm|cpu] [--kernels=fast|stock]
 *     [--layers=4] [--hidden=128] [--seq=64] [--batch=8] [--frozen=2]
 *
 * Prints one JSON object.
 */
import { initBackend, type BackendPreference } from '../src/backend';
import { noGrad, recomputeGradients, type GradientTarget } from '../src/grad';
import { MemoryMeter, measurePeakMemory } from '../src/meter';
import { FeedForward, MultiHeadAttention, TransformerBlock, type LayerContext } from '../src/models';
import { Linear, tf, type Parameter } from '../src/nn';
import { setGlobalSeed } from '../src/util/random';

function option(name: string, fallback: string): string {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length) ?? fallback;
}

const backend = option('backend', 'wasm') as BackendPreference;
const kernels = option('kernels', 'fast') as 'fast' | 'stock';
const layers = Number(option('layers', '4'));
const hidden = Number(option('hidden', '128'));
const seq = Number(option('seq', '64'));
const batch = Number(option('batch', '8'));
const frozenLayers = Number(option('frozen', String(Math.floor(layers / 2))));

async function setUpBackend(): Promise<string[]> {
  const info = await initBackend({ prefer: backend, kernels });
  MemoryMeter.forBackend();
  return info.kernelsPatched;
}

interface StepResult {
  loss: tf.Scalar;
  gradients: tf.Tensor[];
}

interface Variant {
  name: string;
  step: () => StepResult;
}

async function main(): Promise<void> {
  const kernelsPatched = await setUpBackend();
  setGlobalSeed(1);
  const blocks = Array.from({ length: layers }, () => new TransformerBlock({
    hiddenSize: hidden,
    layerNormEps: 1e-5,
    preLayerNorm: false,
    attention: new MultiHeadAttention({ hiddenSize: hidden, numHeads: 4, attentionDropout: 0, outputDropout: 0, fusedQkv: false, causal: false, initStd: 0.02 }),
    ffn: new FeedForward({ hiddenSize: hidden, intermediateSize: 4 * hidden, activation: 'gelu', dropout: 0, initStd: 0.02 }),
  }));
  for (const block of blocks) block.eval();
  const head = new Linear(hidden, 2);
  const input = tf.randomNormal([batch, seq, hidden], 0, 1, 'float32', 2);
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 2), 'int32'), 2);
  const context: LayerContext = { attentionMask: tf.ones([batch, seq]) };
  const loss = (h: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, head.forward(tf.mean(h, 1))) as tf.Scalar;
  const stack = (h: tf.Tensor, from: number, to: number) => blocks.slice(from, to).reduce((x, block) => block.forward(x, context), h);
  const parametersOf = (from: number, to: number): Parameter[] => blocks.slice(from, to).flatMap((b) => b.parameters());

  const plainStep = (trained: Parameter[], frozenUnderNoGrad: boolean) => (): StepResult => {
    const { value, grads } = tf.variableGrads(() => {
      const features = frozenUnderNoGrad ? noGrad(() => stack(input, 0, frozenLayers)) : stack(input, 0, frozenLayers);
      return loss(stack(features, frozenLayers, layers));
    }, trained.map((p) => p.variable));
    return { loss: value, gradients: Object.values(grads) };
  };
  const recomputeStep = (): StepResult => {
    const { loss: value, gradients } = recomputeGradients({
      input,
      stages: blocks.map((block) => ({ forward: (h: tf.Tensor) => block.forward(h, context), parameters: block.parameters() as GradientTarget[] })),
      loss,
      lossParameters: head.parameters(),
    });
    return { loss: value, gradients: [...gradients.values()] };
  };

  const setTrainable = (frozen: boolean) => {
    for (const p of parametersOf(0, frozenLayers)) p.trainable = !frozen;
  };
  const full = [...parametersOf(0, layers), ...head.parameters()];
  const top = [...parametersOf(frozenLayers, layers), ...head.parameters()];
  const variants: Array<Variant & { frozenBottom: boolean }> = [
    { name: 'full: plain tape', step: plainStep(full, false), frozenBottom: false },
    { name: 'full: recompute', step: recomputeStep, frozenBottom: false },
    { name: `top ${layers - frozenLayers} trained: plain tape`, step: plainStep(top, false), frozenBottom: true },
    { name: `top ${layers - frozenLayers} trained: noGrad on frozen part`, step: plainStep(top, true), frozenBottom: true },
    { name: `top ${layers - frozenLayers} trained: recompute`, step: recomputeStep, frozenBottom: true },
  ];

  const results = [];
  for (const variant of variants) {
    setTrainable(variant.frozenBottom);
    const run = () => {
      const { loss: value, gradients } = variant.step();
      const lossValue = value.dataSync()[0]!;
      tf.dispose([value, ...gradients]);
      return lossValue;
    };
    run();
    const startedAt = performance.now();
    const measured = measurePeakMemory(run);
    const milliseconds = performance.now() - startedAt;
    const profileStart = tf.memory().numBytes;
    const profile = await tf.profile(() => {
      run();
    });
    results.push({
      variant: variant.name,
      loss: measured.result,
      realPeakMB: +(measured.peakBytes / 2 ** 20).toFixed(2),
      baselineMB: +(measured.baselineBytes / 2 ** 20).toFixed(2),
      endBytes: measured.endBytes,
      profilePeakAboveStartMB: +((profile.peakBytes - profileStart) / 2 ** 20).toFixed(2),
      profilePeakMB: +(profile.peakBytes / 2 ** 20).toFixed(2),
      stepMs: Math.round(milliseconds),
    });
  }
  console.log(JSON.stringify({ backend: tf.getBackend(), kernelsPatched, layers, hidden, seq, batch, frozenLayers, results }, null, 2));
}

await main();
