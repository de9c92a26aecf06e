import { initBackend } from '../src/backend';
import { tf } from '../src/nn/tf';
await initBackend({ prefer: 'wasm', kernels: 'stock' });
const lab = tf.tensor1d([0, 1], 'int32');
const oh = tf.oneHot(lab, 3, 1, 0, 'float32'); console.log('oneHot', oh.dtype, oh.dataSync());
const valid = tf.notEqual(lab, -100).toFloat(); console.log('valid', valid.dtype, valid.dataSync());
console.log('max', tf.maximum(tf.sum(valid), 1).dataSync());
console.log('mul int', tf.mul(lab, valid.toInt()).dataSync());
