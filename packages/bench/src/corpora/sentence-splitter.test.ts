import { describe, expect, it } from 'vitest';
import { splitSentences } from './sentence-splitter';

describe('splitSentences', () => {
  it('splits at sentence punctuation followed by a capital, digit or opening quote', () => {
    expect(splitSentences('Call me Ishmael. Some years ago I went to sea!  Why? “Because,” he said. 1851 was the year.')).toEqual([
      'Call me Ishmael.',
      'Some years ago I went to sea!',
      'Why?',
      '“Because,” he said.',
      '1851 was the year.',
    ]);
  });

  it('keeps abbreviations, initials and closing quotes with their sentence', () => {
    expect(splitSentences('Mr. Smith met Dr. Jones in the U.S. Senate. John F. Kennedy spoke. "Go now." She went.')).toEqual([
      'Mr. Smith met Dr. Jones in the U.S. Senate.',
      'John F. Kennedy spoke.',
      '"Go now."',
      'She went.',
    ]);
  });

  it('does not split before a lowercase word and collapses whitespace', () => {
    expect(splitSentences('It cost 3.5 dollars. e.g. this\n\nstays   together')).toEqual(['It cost 3.5 dollars. e.g. this stays together']);
    expect(splitSentences('   ')).toEqual([]);
  });
});
