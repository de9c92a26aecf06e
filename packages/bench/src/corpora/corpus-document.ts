/**
 * One document of a corpus: a stable id (unique within the corpus, used to split tasks by
 * document), its text, its sentences, and corpus-specific metadata.
 */
export interface CorpusDocument<TMetadata> {
  id: string;
  text: string;
  sentences: string[];
  metadata: TMetadata;
}
