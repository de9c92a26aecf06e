import { buildWordNetCategoryTask, buildSotuEraTask, buildSentenceOrderTask, buildBrownPosTask, buildTaskCard, formatTaskCard } from '../src/index';
import { loadBrown } from '../src/corpora/brown';
import { brownToUniversal } from '../src/tasks/brown-tag-map';
const unmapped = new Map<string, number>();
for (const d of loadBrown()) for (const s of d.metadata.taggedSentences) for (const t of s.tags) if (brownToUniversal(t) === 'X') unmapped.set(t, (unmapped.get(t) ?? 0) + 1);
console.log([...unmapped].sort((a,b)=>b[1]-a[1]).slice(0,30));
for (const build of [buildWordNetCategoryTask, buildSotuEraTask, buildSentenceOrderTask, buildBrownPosTask]) {
  const t = Date.now(); const task = build(); const t2 = Date.now(); const card = buildTaskCard(task);
  console.log(formatTaskCard(card)); console.log('build ms', t2 - t, 'card ms', Date.now() - t2, '\n');
}
