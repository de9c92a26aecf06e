import { initBackend, restoreStockKernels } from '../src/backend';
import { wasmUnsortedSegmentSumKernel } from '../src/backend/kernels/wasm-unsorted-segment-sum';
import { wasmIdentityKernel } from '../src/backend/kernels/wasm-identity';
import { wasmBatchMatMulKernel } from '../src/backend/kernels/wasm-batch-mat-mul';
import { BertModel } from '../src/models/bert-model';
import { tf } from '../src/nn/tf';
import { setGlobalSeed } from '../src/util/random';
function lossOf() {
  setGlobalSeed(3);
  const model = new BertModel({ vocabSize: 50, hiddenSize: 16, numLayers: 2, numHeads: 2, maxPositions: 8, numLabels: 2, hiddenDropout: 0, attentionDropout: 0 });
  const params = model.parameters();
  const ids = tf.tensor2d([1,2,3,4,5,6,7,8, 9,9,9,1,2,3,0,0], [2, 8], 'int32');
  const mask = tf.tensor2d([1,1,1,1,1,1,1,1, 1,1,1,1,1,1,0,0], [2, 8], 'int32');
  const labels = tf.tensor1d([0, 1], 'int32');
  const plain = model.taskLoss(model.forward({ inputIds: ids, attentionMask: mask }), labels, mask).dataSync()[0];
  const { value } = tf.variableGrads(() => model.taskLoss(model.forward({ inputIds: ids, attentionMask: mask }), labels, mask), params.map(p => p.variable));
  return [plain, value.dataSync()[0]];
}
await initBackend({ prefer: 'cpu' }); console.log('cpu', lossOf());
await initBackend({ prefer: 'wasm', kernels: 'stock' });
tf.registerKernel(wasmUnsortedSegmentSumKernel());
console.log('wasm stock+uss', lossOf());
tf.unregisterKernel('Identity', 'wasm'); const idk = wasmIdentityKernel(); tf.registerKernel(idk);
console.log('wasm +identity', lossOf());
