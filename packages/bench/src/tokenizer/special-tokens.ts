/** BERT's special tokens, in the order that fixes their ids 0..4 in every vocabulary the trainer writes. */
export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

/** The fixed ids of the special tokens. */
export const SPECIAL_TOKEN_IDS = {
  pad: 0,
  unk: 1,
  cls: 2,
  sep: 3,
  mask: 4,
} as const;

/** The prefix WordPiece puts on every piece that continues a word (`play ##ing`). */
export const CONTINUING_SUBWORD_PREFIX = '##';
