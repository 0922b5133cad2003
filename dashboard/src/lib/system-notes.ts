// The server writes its own notes on finding events (actor "system") in English. A page in Russian
// must not show them as they are: the known ones map to catalogue keys; anything else written by a
// person is their text and is shown unchanged.
import type { MessageKey } from './i18n';

export const kSystemActor = 'system';

export function systemNoteKey(actor: string, kind: string, comment: string): MessageKey | null {
  if (actor !== kSystemActor || comment === '') return null;
  if (kind === 'verify_confirmed') return 'finding_note.verify_confirmed';
  if (kind === 'verify_failed') return 'finding_note.verify_failed';
  if (kind === 'resolved' && comment === 'rule removed or disabled') return 'finding_note.rule_removed';
  return null;
}

// "(verification asked by anna)" -> "anna", so the translated note can name them.
export function askedBy(comment: string): string {
  return /verification asked by ([^)]*)\)/.exec(comment)?.[1] ?? '';
}
