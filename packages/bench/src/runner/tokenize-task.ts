import { IGNORE_INDEX, type BertTask, type Example } from '@peftjs/core';
import { isTokenExample, type BenchTask, type TaskExample, type TaskSplitName } from '../tasks/task';
import type { BenchTokenizer } from '../tokenizer/bench-tokenizer';

/** A task's splits as model inputs. */
export type TokenizedTask = Record<TaskSplitName, Example[]>;

/** The model head a bench task trains. */
export function modelTaskOf(task: Pick<BenchTask, 'type'>): BertTask {
  switch (task.type) {
    case 'token-classification':
      return 'token-classification';
    case 'regression':
      return 'regression';
    default:
      return 'sequence-classification';
  }
}

/**
 * Tokenizes every split: `[CLS] text [SEP] (pair [SEP])` truncated to `maxLength`, the label as a
 * class id; for tagging, each word's tag on its first WordPiece and −100 on the other pieces and
 * the special tokens (as HF's token-classification examples label only the first sub-token).
 */
export function tokenizeTask(task: BenchTask, tokenizer: BenchTokenizer, maxLength: number): TokenizedTask {
  const encode = (example: TaskExample): Example => {
    if (isTokenExample(example)) return encodeTagged(example.tokens, example.tags, tokenizer, maxLength);
    const encoding = tokenizer.encode(example.text, { textPair: example.textPair, maxLength, padding: false });
    return { inputIds: encoding.inputIds, tokenTypeIds: encoding.tokenTypeIds, labels: example.label };
  };
  return { train: task.train.map(encode), validation: task.validation.map(encode), test: task.test.map(encode) };
}

function encodeTagged(words: readonly string[], tags: readonly number[], tokenizer: BenchTokenizer, maxLength: number): Example {
  const { cls, sep, unk } = tokenizer.specialIds;
  const inputIds: number[] = [cls];
  const labels: number[] = [IGNORE_INDEX];
  for (const [i, word] of words.entries()) {
    const pieces = tokenizer.tokenIds(word);
    const ids = pieces.length > 0 ? pieces : [unk];
    for (const [p, id] of ids.entries()) {
      if (inputIds.length >= maxLength - 1) break;
      inputIds.push(id);
      labels.push(p === 0 ? tags[i]! : IGNORE_INDEX);
    }
  }
  inputIds.push(sep);
  labels.push(IGNORE_INDEX);
  return { inputIds, labels, tokenTypeIds: inputIds.map(() => 0) };
}

/** Every text of the train split (both segments; the words of tagged sentences), for training a tokenizer. */
export function trainTexts(task: BenchTask): string[] {
  return task.train.flatMap((example) => (isTokenExample(example) ? [example.tokens.join(' ')] : example.textPair === undefined ? [example.text] : [example.text, example.textPair]));
}
