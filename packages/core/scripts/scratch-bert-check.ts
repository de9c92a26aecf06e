import { initBackend } from '../src/backend';
import { BertModel } from '../src/models/bert-model';
import { GptModel } from '../src/models/gpt-model';
import { tf } from '../src/nn/tf';
import { setGlobalSeed } from '../src/util/random';
const results: Record<string, { loss: number; g: number[][] }> = {};
for (const backend of ['cpu', 'wasm'] as const) {
  await initBackend({ prefer: backend });
  for (const task of ['sequence-classification', 'masked-lm', 'gpt'] as const) {
    setGlobalSeed(3);
    const cfg = { vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 8, hiddenDropout: 0, attentionDropout: 0 };
    const model = task === 'gpt' ? new GptModel({ ...cfg, task: 'causal-lm' } as never) : new BertModel({ ...cfg, task, ...(task === 'masked-lm' ? {} : { numLabels: 2 }) });
    const params = model.parameters();
    const ids = tf.tensor2d([1,2,3,4,5,6,7,8, 9,9,9,1,2,3,0,0], [2, 8], 'int32');
    const mask = tf.tensor2d([1,1,1,1,1,1,1,1, 1,1,1,1,1,1,0,0], [2, 8], 'int32');
    const labels = task === 'sequence-classification' ? tf.tensor1d([0, 1], 'int32') : tf.tensor2d([-100,2,-100,4,5,-100,7,8, 9,-100,9,1,-100,3,0,0], [2, 8], 'int32');
    const { value, grads } = tf.variableGrads(() => model.taskLoss(model.forward({ inputIds: ids, attentionMask: mask }), labels, mask), params.map(p => p.variable));
    results[backend + task] = { loss: value.dataSync()[0]!, g: params.map(p => Array.from(grads[p.variable.name]!.dataSync())) };
  }
}
for (const task of ['sequence-classification', 'masked-lm', 'gpt']) {
  const c = results['cpu' + task]!, w = results['wasm' + task]!;
  let maxd = 0; c.g.forEach((g, i) => g.forEach((v, j) => { maxd = Math.max(maxd, Math.abs(v - w.g[i]![j]!) / (1e-3 + Math.abs(v))); }));
  console.log(task, 'loss cpu', c.loss, 'wasm', w.loss, 'max grad rel diff', maxd.toExponential(2), 'params', c.g.length);
}
