import type { Member } from '@coderoom/sdk';

/** Collaborator colours (light enough for black name labels: WCAG AA). */
const COLORS = ['#ffb3ba', '#ffdfba', '#fff1a8', '#baffc9', '#bae1ff', '#e0c3ff', '#c9f0ff'];

/** A stable colour per user name (FNV-1a: short names spread over the colours). */
export function colorFor(name: string): string {
  let h = 2166136261;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return COLORS[h % COLORS.length];
}

/** What a member is doing, in a few words. */
export function activityText(m: Pick<Member, 'online' | 'activity'>): string {
  if (!m.online) return 'offline';
  if (m.activity) return m.activity.status;
  return 'online';
}
