import { join } from 'node:path';
import { packageDirectory } from '../corpora/package-directory';

/**
 * The pretrained encoder shipped in this package (`backbone/`: config.json, model.safetensors,
 * tokenizer.json and its model card), written by `pnpm --filter @peftjs/bench pretrain`.
 */
export function bundledBackboneDirectory(): string {
  return join(packageDirectory('@peftjs/bench'), 'backbone');
}

/** The bundled encoder's name, as its model card gives it. */
export const BUNDLED_BACKBONE_NAME = 'peftjs-bench-bert-h128-l4';
