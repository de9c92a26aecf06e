import { describe, expect, it } from 'vitest';
import { loadBrown, parseBrownFile } from './brown';
import { loadMobyDick } from './moby-dick';
import { loadSotu } from './sotu';
import { loadSpamAssassin, splitEmail } from './spam-assassin';
import { loadWordNetNouns, parseWordNetDataLine } from './wordnet';

describe('parsers on hand-written input', () => {
  it('parses a WordNet data.noun line: lemmas, lexicographer file, definition and examples', () => {
    const line =
      '02062744 05 n 02 cetacean 0 cetacean_mammal 0 003 @ 01864419 n 0000 ~ 02063224 n 0000 #m 02062430 n 0000 | large aquatic carnivorous mammal; "whales are cetaceans"; "a dolphin"  ';
    const synset = parseWordNetDataLine(line)!;
    expect(synset.id).toBe('wordnet-n-02062744');
    expect(synset.text).toBe('large aquatic carnivorous mammal');
    expect(synset.metadata).toEqual({
      offset: '02062744',
      category: 'noun.animal',
      lemmas: ['cetacean', 'cetacean mammal'],
      examples: ['whales are cetaceans', 'a dolphin'],
    });
    expect(parseWordNetDataLine('  1 This software and database is being provided')).toBeUndefined();
  });

  it('parses Brown form C: one sentence per line, tag after the last slash', () => {
    const content = '\n\n\tThe/at jury/nn said/vbd 1/2/cd ./.\n\n\n\tHe\'s/pps+bez here/rb ./.\n';
    expect(parseBrownFile(content)).toEqual([
      { words: ['The', 'jury', 'said', '1/2', '.'], tags: ['at', 'nn', 'vbd', 'cd', '.'] },
      { words: ["He's", 'here', '.'], tags: ['pps+bez', 'rb', '.'] },
    ]);
  });

  it('splits an email into subject (folded header) and body', () => {
    const raw = 'From: a@b.c\nSubject: Cheap\n  pills now\nTo: d@e.f\n\nBuy now.\nReally.\n';
    expect(splitEmail(raw)).toEqual({ subject: 'Cheap pills now', body: 'Buy now.\nReally.' });
  });
});

describe('installed corpora', () => {
  it('loads 233 SOTU addresses in year order with metadata', () => {
    const addresses = loadSotu();
    expect(addresses).toHaveLength(233);
    expect(addresses[0]!.metadata).toEqual({ year: 1790, president: 'George Washington', party: 'none' });
    expect(addresses.at(-1)!.metadata.year).toBe(2021);
    const years = addresses.map((address) => address.metadata.year);
    expect(years).toEqual([...years].sort((a, b) => a - b));
    expect(new Set(addresses.map((address) => address.id)).size).toBe(233);
    expect(addresses[0]!.sentences[0]).toMatch(/^Fellow-Citizens of the Senate/u);
    expect(loadSotu()).toBe(addresses);
  });

  it('loads Moby-Dick as 135 chapters and the epilogue', () => {
    const chapters = loadMobyDick();
    expect(chapters).toHaveLength(136);
    expect(chapters[0]!.sentences[0]).toBe('Call me Ishmael.');
    expect(chapters[0]!.metadata).toEqual({ chapter: 1, title: 'Loomings.' });
    expect(chapters.at(-1)!.id).toBe('moby-dick-136');
  });

  it('loads the 500 Brown documents with 15 genres and aligned tags', () => {
    const documents = loadBrown();
    expect(documents).toHaveLength(500);
    expect(new Set(documents.map((document) => document.metadata.genre)).size).toBe(15);
    expect(documents[0]!.id).toBe('ca01');
    expect(documents[0]!.metadata.genre).toBe('news');
    const first = documents[0]!.metadata.taggedSentences[0]!;
    expect(first.words.slice(0, 3)).toEqual(['The', 'Fulton', 'County']);
    expect(first.tags.slice(0, 3)).toEqual(['at', 'np-tl', 'nn-tl']);
    for (const sentence of documents[10]!.metadata.taggedSentences) expect(sentence.tags).toHaveLength(sentence.words.length);
  });

  it('loads the 82,192 WordNet 3.1 noun synsets with lexicographer categories', () => {
    const synsets = loadWordNetNouns();
    expect(synsets).toHaveLength(82192);
    const categories = new Set(synsets.map((synset) => synset.metadata.category));
    expect(categories.size).toBe(26);
    expect([...categories].every((category) => category.startsWith('noun.'))).toBe(true);
    expect(synsets[0]!.metadata.lemmas).toEqual(['entity']);
  });

  it('loads only the asked SpamAssassin groups (hard ham: 250 messages)', () => {
    const emails = loadSpamAssassin(['hard-ham-1']);
    expect(emails).toHaveLength(250);
    expect(emails.every((email) => email.metadata.label === 'ham' && email.id.startsWith('hard-ham-1/'))).toBe(true);
    expect(emails.some((email) => email.metadata.subject.length > 0)).toBe(true);
    expect(emails.every((email) => !/^Return-Path:/mu.test(email.text.slice(0, 200)))).toBe(true);
  });
});
