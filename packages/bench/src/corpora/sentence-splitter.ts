/** Abbreviations whose period does not end a sentence (lowercase, without the final period). */
const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'messrs', 'dr', 'st', 'jr', 'sr', 'prof', 'gen', 'col', 'capt', 'cpt', 'lt', 'maj', 'sgt',
  'adm', 'sen', 'rep', 'gov', 'hon', 'rev', 'pres', 'vs', 'etc', 'no', 'nos', 'vol', 'inc', 'co', 'corp', 'ltd',
  'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'fig', 'ft', 'mt', 'ave',
]);

/** A run of ., ! or ?, closing quotes/brackets, then space and something that can start a sentence. */
const BOUNDARY = /[.!?]+["'”’)\]]*(?=\s+["'“‘([]?[A-Z0-9])/gu;

function isAbbreviation(word: string): boolean {
  const bare = word.replace(/^["'“‘([]+/u, '');
  if (/^[A-Za-z]$/u.test(bare)) return true; // an initial: "John F. Kennedy"
  if (/^(?:[A-Za-z]\.)+[A-Za-z]$/u.test(bare)) return true; // "U.S." and the like
  return ABBREVIATIONS.has(bare.toLowerCase());
}

/**
 * Splits English prose into sentences: a sentence ends at `.`, `!` or `?` (plus closing quotes)
 * followed by whitespace and an uppercase letter, digit or opening quote, unless the period closes
 * a known abbreviation or an initial. Whitespace inside sentences is collapsed to single spaces.
 * A simple rule-based splitter: good enough for building tasks, not a linguistic tool.
 */
export function splitSentences(text: string): string[] {
  const flat = text.replace(/\s+/gu, ' ').trim();
  const sentences: string[] = [];
  let start = 0;
  for (const match of flat.matchAll(BOUNDARY)) {
    const punctuationAt = match.index;
    if (match[0].startsWith('.')) {
      const lastWord = /\S+$/u.exec(flat.slice(start, punctuationAt))?.[0] ?? '';
      if (isAbbreviation(lastWord)) continue;
    }
    const end = punctuationAt + match[0].length;
    const sentence = flat.slice(start, end).trim();
    if (sentence.length > 0) sentences.push(sentence);
    start = end;
  }
  const rest = flat.slice(start).trim();
  if (rest.length > 0) sentences.push(rest);
  return sentences;
}
