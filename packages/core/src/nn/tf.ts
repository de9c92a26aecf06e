/**
 * The one TensorFlow.js instance every peftjs package uses. Importing the union package
 * registers the gradients (bare tfjs-core has none). Family packages and plugins import `tf`
 * from `@peftjs/core` so they share this instance and need no tfjs dependency of their own.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
