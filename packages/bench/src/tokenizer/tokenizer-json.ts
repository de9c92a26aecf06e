import { CONTINUING_SUBWORD_PREFIX, SPECIAL_TOKEN_IDS, SPECIAL_TOKENS } from './special-tokens';

/** One entry of `added_tokens` in a Hugging Face `tokenizer.json`. */
export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

type TemplatePiece =
  | { SpecialToken: { id: string; type_id: number } }
  | { Sequence: { id: 'A' | 'B'; type_id: number } };

/**
 * The subset of the Hugging Face `tokenizer.json` format a BERT-style WordPiece tokenizer uses
 * (the format `tokenizers` in Rust/Python and `@huggingface/tokenizers` in JS both read).
 */
export interface WordPieceTokenizerJson {
  version: '1.0';
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: {
    type: 'BertNormalizer';
    clean_text: boolean;
    handle_chinese_chars: boolean;
    strip_accents: boolean | null;
    lowercase: boolean;
  };
  pre_tokenizer: { type: 'BertPreTokenizer' };
  post_processor: {
    type: 'TemplateProcessing';
    single: TemplatePiece[];
    pair: TemplatePiece[];
    special_tokens: Record<string, { id: string; ids: number[]; tokens: string[] }>;
  };
  decoder: { type: 'WordPiece'; prefix: string; cleanup: boolean };
  model: {
    type: 'WordPiece';
    unk_token: string;
    continuing_subword_prefix: string;
    max_input_chars_per_word: number;
    vocab: Record<string, number>;
  };
}

/** The normalizer settings the trainer uses and writes: BERT uncased (lowercase + strip accents). */
export const BERT_NORMALIZER_CONFIG = {
  type: 'BertNormalizer',
  clean_text: true,
  handle_chinese_chars: true,
  strip_accents: null,
  lowercase: true,
} as const;

/**
 * Builds the `tokenizer.json` object of a BERT-style WordPiece tokenizer from its vocabulary
 * (token -> id, special tokens at ids 0..4). Templates: `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]`
 * with type id 0 for the first segment (and its specials) and 1 for the second.
 */
export function buildTokenizerJson(vocab: ReadonlyMap<string, number>): WordPieceTokenizerJson {
  const vocabObject: Record<string, number> = {};
  for (const [token, id] of [...vocab].sort((a, b) => a[1] - b[1])) vocabObject[token] = id;
  const special = (token: string, typeId: number): TemplatePiece => ({ SpecialToken: { id: token, type_id: typeId } });
  const sequence = (id: 'A' | 'B', typeId: number): TemplatePiece => ({ Sequence: { id, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: { ...BERT_NORMALIZER_CONFIG },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0)],
      pair: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0), sequence('B', 1), special('[SEP]', 1)],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [SPECIAL_TOKEN_IDS.cls], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [SPECIAL_TOKEN_IDS.sep], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: CONTINUING_SUBWORD_PREFIX, cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: CONTINUING_SUBWORD_PREFIX,
      max_input_chars_per_word: 100,
      vocab: vocabObject,
    },
  };
}
