/**
 * Re-derives a pretrained backbone's card numbers from its files: MLM accuracy on the held-out
 * evaluation set against the unigram baseline. Prints JSON; exits 1 when they differ from the card.
 *
 *   pnpm --filter @peftjs/bench evaluate-backbone -- --dir backbone [--backend wasm]
 */
import { parseArgs } from 'node:util';
import type { BackendPreference } from '@peftjs/core';
import { evaluateBackbone } from '../src/pretrain/evaluate-backbone';

// `pnpm <script> -- --flag` hands the `--` through; drop it.
const args = process.argv.slice(2).filter((arg, index) => !(index === 0 && arg === '--'));
const { values } = parseArgs({ args, options: { dir: { type: 'string', default: 'backbone' }, backend: { type: 'string' } } });
const result = await evaluateBackbone(values.dir!, values.backend !== undefined ? { backend: values.backend as BackendPreference } : {});
console.log(JSON.stringify(result, null, 2));
if (!result.matchesCard || result.changedFiles.length > 0) process.exitCode = 1;
