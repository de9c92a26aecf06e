import { loadSotu, loadMobyDick, loadBrown, loadWordNetNouns, loadSpamAssassin } from '../src/corpora/index';
for (const [name, f] of [['sotu', loadSotu], ['moby', loadMobyDick], ['brown', loadBrown], ['wn', loadWordNetNouns], ['spam', () => loadSpamAssassin(['hard-ham-1','spam-1'])]] as const) {
  const t = Date.now(); const docs = (f as () => any[])(); 
  const sents = docs.reduce((s, d) => s + d.sentences.length, 0);
  console.log(name, docs.length, 'sents', sents, Date.now() - t, 'ms', JSON.stringify({...docs[0], text: docs[0].text.slice(0,100), sentences: docs[0].sentences.slice(0,3), metadata: {...docs[0].metadata, taggedSentences: undefined}}).slice(0, 600));
}
const s = loadSotu()[100]!; console.log(s.sentences.slice(0, 8));
