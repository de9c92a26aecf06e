import * as tf from '@tensorflow/tfjs';
await tf.setBackend('cpu');
const r = tf.unsortedSegmentSum(tf.tensor1d([1,2,3,4],'int32'), tf.tensor1d([0,1,0,5],'int32'), 3);
console.log(r.dtype, r.shape, r.dataSync());
const r2 = tf.unsortedSegmentSum(tf.tensor2d([1,2,3,4,5,6],[2,3]), tf.tensor2d([0,1,2,2,-1,0],[2,3],'int32'), 3);
console.log(r2.dtype, r2.shape, r2.dataSync());
try { const r3 = tf.unsortedSegmentSum(tf.tensor2d([1,2,3,4,5,6],[2,3]), tf.tensor1d([0],'int32'), 3); console.log(r3.shape, r3.dataSync()); } catch (e) { console.log('err', (e as Error).message); }
try { const r3 = tf.unsortedSegmentSum(tf.tensor2d([1,2,3,4,5,6],[2,3]), tf.tensor1d([0,1,1],'int32'), 3); console.log(r3.shape, r3.dataSync()); } catch (e) { console.log('err', (e as Error).message); }
try { const r3 = tf.unsortedSegmentSum(tf.tensor2d([1,2,3,4,5,6],[2,3]), tf.scalar(1,'int32'), 3); console.log(r3.shape, r3.dataSync()); } catch (e) { console.log('err', (e as Error).message); }
