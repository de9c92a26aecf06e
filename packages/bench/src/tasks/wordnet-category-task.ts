import { loadWordNetNouns, type WordNetSynset } from '../corpora/wordnet';
import { assembleTask, type TaskSplitOptions } from './assemble-task';
import { selectEvenly } from './select-evenly';
import type { TextExample, TextTask } from './task';

export interface WordNetCategoryTaskOptions extends TaskSplitOptions {
  /** Keep the N lexicographer categories with the most synsets (default 8). */
  topCategories?: number;
  /** At most this many synsets per category, spread evenly over the file (default 1500). */
  maxPerCategory?: number;
  /** Synsets to use instead of the installed WordNet (tests). */
  synsets?: readonly WordNetSynset[];
}

/**
 * (a) WordNet noun category: from a noun synset's definition, predict its lexicographer file
 * (`noun.animal`, `noun.artifact`, `noun.person`, ...). Single-sentence multi-class; each synset
 * is its own document. Labels are the top categories by size, in alphabetical order.
 */
export function buildWordNetCategoryTask(options: WordNetCategoryTaskOptions = {}): TextTask {
  const synsets = options.synsets ?? loadWordNetNouns();
  const byCategory = new Map<string, WordNetSynset[]>();
  for (const synset of synsets) {
    const list = byCategory.get(synset.metadata.category) ?? [];
    list.push(synset);
    byCategory.set(synset.metadata.category, list);
  }
  const labels = [...byCategory]
    .sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1))
    .slice(0, options.topCategories ?? 8)
    .map(([category]) => category)
    .sort();
  const examples: TextExample[] = labels.flatMap((category, label) =>
    selectEvenly(byCategory.get(category)!, options.maxPerCategory ?? 1500).map((synset) => ({
      documentId: synset.id,
      text: synset.text,
      label,
    })),
  );
  return assembleTask(
    {
      name: 'wordnet-category',
      description: 'WordNet 3.1 noun synset definition -> lexicographer category (noun.animal, noun.artifact, ...)',
      type: 'sequence-classification',
      metric: 'accuracy',
      labels,
    },
    examples,
    options,
  );
}
