import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { invalidArgument } from '@peftjs/core';
import { SPECIAL_TOKEN_IDS, SPECIAL_TOKENS } from './special-tokens';
import type { WordPieceTokenizerJson } from './tokenizer-json';

/** Options of {@link BenchTokenizer.encode}. */
export interface BenchEncodeOptions {
  /** Second segment of a sentence-pair input (type ids 1). */
  textPair?: string;
  /** Total length including [CLS]/[SEP]. Longer inputs are truncated (longest segment first). */
  maxLength?: number;
  /** Pad with [PAD] up to `maxLength` (default true when `maxLength` is given). */
  padding?: boolean;
}

/** Model inputs of one example, as plain number arrays. */
export interface BenchEncoding {
  inputIds: number[];
  attentionMask: number[];
  tokenTypeIds: number[];
}

/**
 * A BERT-style WordPiece tokenizer for the bench: `@huggingface/tokenizers` does the
 * normalization, pre-tokenization and WordPiece encoding from a standard `tokenizer.json`; this
 * class adds what the bench needs on top: `[CLS] A [SEP] (B [SEP])` with type ids, truncation
 * (longest segment first, like `tokenizers`' `longest_first`) and padding to a fixed length.
 *
 * @example
 * const tokenizer = BenchTokenizer.fromJson(trainWordPiece(texts, { vocabSize: 2000 }).tokenizerJson);
 * const { inputIds, attentionMask, tokenTypeIds } = tokenizer.encode('Call me Ishmael.', { maxLength: 16 });
 */
export class BenchTokenizer {
  /** Ids of the special tokens (fixed: pad 0, unk 1, cls 2, sep 3, mask 4). */
  readonly specialIds = SPECIAL_TOKEN_IDS;
  readonly vocabSize: number;
  private readonly tokenizer: Tokenizer;

  private constructor(tokenizerJson: WordPieceTokenizerJson) {
    const vocab = tokenizerJson.model.vocab;
    SPECIAL_TOKENS.forEach((token, id) => {
      if (vocab[token] !== id) invalidArgument(`tokenizerJson.model.vocab["${token}"]`, vocab[token], `id ${id}`);
    });
    this.tokenizer = new Tokenizer(tokenizerJson, {});
    this.vocabSize = Object.keys(vocab).length;
  }

  static fromJson(tokenizerJson: WordPieceTokenizerJson): BenchTokenizer {
    return new BenchTokenizer(tokenizerJson);
  }

  static async fromFile(path: string): Promise<BenchTokenizer> {
    return new BenchTokenizer(JSON.parse(await readFile(path, 'utf8')) as WordPieceTokenizerJson);
  }

  /** WordPiece ids of a text, without special tokens. */
  tokenIds(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** WordPiece tokens of a text, without special tokens. */
  tokenize(text: string): string[] {
    return this.tokenizer.tokenize(text);
  }

  encode(text: string, options: BenchEncodeOptions = {}): BenchEncoding {
    const { maxLength, textPair } = options;
    const padding = options.padding ?? maxLength !== undefined;
    const first = this.tokenIds(text);
    const second = textPair === undefined ? undefined : this.tokenIds(textPair);
    const specials = second === undefined ? 2 : 3;
    if (maxLength !== undefined) {
      if (!Number.isInteger(maxLength) || maxLength < specials) invalidArgument('maxLength', maxLength, `an integer >= ${specials}`);
      truncateLongestFirst(first, second ?? [], maxLength - specials);
    }
    const { cls, sep, pad } = this.specialIds;
    const inputIds = [cls, ...first, sep];
    const tokenTypeIds = inputIds.map(() => 0);
    if (second !== undefined) {
      inputIds.push(...second, sep);
      tokenTypeIds.push(...second.map(() => 1), 1);
    }
    const attentionMask = inputIds.map(() => 1);
    if (padding && maxLength !== undefined) {
      while (inputIds.length < maxLength) {
        inputIds.push(pad);
        attentionMask.push(0);
        tokenTypeIds.push(0);
      }
    }
    return { inputIds, attentionMask, tokenTypeIds };
  }

  /** Text of ids; special tokens are skipped unless asked for. */
  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecialTokens ?? true });
  }

  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }
}

/** Drops tokens from the end of the longer segment until both fit in `budget` tokens. */
function truncateLongestFirst(first: number[], second: number[], budget: number): void {
  while (first.length + second.length > budget) {
    if (first.length >= second.length) first.pop();
    else second.pop();
  }
}
