/**
 * The 12 coarse tags of the universal tag set (Petrov, Das, McDonald, "A Universal Part-of-Speech
 * Tagset", LREC 2012), the set NLTK's `tagset='universal'` maps Brown to.
 */
export const UNIVERSAL_TAGS = ['.', 'ADJ', 'ADP', 'ADV', 'CONJ', 'DET', 'NOUN', 'NUM', 'PRON', 'PRT', 'VERB', 'X'] as const;
export type UniversalTag = (typeof UNIVERSAL_TAGS)[number];

/** Brown base tags (after stripping decorations, see {@link brownBaseTag}) -> universal tag, after Petrov et al.'s en-brown.map. */
const BASE_TAG_MAP: Record<string, UniversalTag> = {
  jj: 'ADJ', jjr: 'ADJ', jjs: 'ADJ', jjt: 'ADJ', od: 'ADJ',
  in: 'ADP',
  rb: 'ADV', rbr: 'ADV', rbt: 'ADV', rn: 'ADV', ql: 'ADV', qlp: 'ADV', wql: 'ADV', wrb: 'ADV',
  cc: 'CONJ', cs: 'CONJ',
  abl: 'DET', abn: 'DET', abx: 'DET', ap: 'DET', at: 'DET', dt: 'DET', dti: 'DET', dts: 'DET', dtx: 'DET', ex: 'DET', wdt: 'DET',
  nn: 'NOUN', nns: 'NOUN', np: 'NOUN', nps: 'NOUN', nr: 'NOUN', nrs: 'NOUN',
  cd: 'NUM',
  pn: 'PRON', pp: 'PRON', ppl: 'PRON', ppls: 'PRON', ppo: 'PRON', pps: 'PRON', ppss: 'PRON', wp: 'PRON', wpo: 'PRON', wps: 'PRON',
  rp: 'PRT', to: 'PRT',
  md: 'VERB', vb: 'VERB', vbd: 'VERB', vbg: 'VERB', vbn: 'VERB', vbz: 'VERB',
  be: 'VERB', bed: 'VERB', bedz: 'VERB', beg: 'VERB', bem: 'VERB', ben: 'VERB', ber: 'VERB', bez: 'VERB',
  do: 'VERB', dod: 'VERB', doz: 'VERB', hv: 'VERB', hvd: 'VERB', hvg: 'VERB', hvn: 'VERB', hvz: 'VERB',
  uh: 'X', nil: 'X',
};

/**
 * The base of a Brown tag: lowercase; the first part of a contraction (`pps+bez` for "he's" ->
 * `pps`); without the title/headline/cited suffixes (`-tl`, `-hl`, `-nc`), the negation `*` and the
 * possessive `$` (`pp$` -> `pp`, `nn$` -> `nn`).
 */
export function brownBaseTag(tag: string): string {
  const first = tag.toLowerCase().split('+')[0] ?? '';
  return first.replace(/-(?:tl|hl|nc)/gu, '').replace(/[*$]/gu, '');
}

/**
 * Maps a Brown tag to its universal tag. Foreign words (`fw-...`) are X; the negation `*` (not, n't) is ADV; punctuation tags (`.`,
 * `,`, `:`, `(`, `)`, `--`, quotes) are `.`; tags without a mapping are X.
 */
export function brownToUniversal(tag: string): UniversalTag {
  const lower = tag.toLowerCase();
  if (lower.startsWith('fw-')) return 'X';
  const base = brownBaseTag(lower);
  if (base.length === 0 && lower.includes('*')) return 'ADV'; // `*` alone tags "not" and "n't"
  if (base.length > 0 && !/[a-z]/u.test(base)) return '.';
  return BASE_TAG_MAP[base] ?? 'X';
}
