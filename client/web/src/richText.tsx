import type { ReactNode } from 'react';

const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"]+/gi;
/** Punctuation that ends a sentence rather than the link: "see https://x.example/a." */
const TRAILING = /[.,;:!?)\]'"]+$/;

/**
 * A message's text with its http(s) links clickable. Only http and https become links
 * (never javascript:, data: or anything else); they open in a new tab with
 * rel="noopener noreferrer", so the page opened can neither reach back into this one nor
 * learn which conversation it came from. Everything else stays text (React escapes it).
 */
export function withLinks(text: string): ReactNode[] {
  const parts: ReactNode[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_IN_TEXT)) {
    const start = match.index ?? 0;
    let candidate = match[0];
    const trailing = TRAILING.exec(candidate)?.[0] ?? '';
    candidate = candidate.slice(0, candidate.length - trailing.length);
    let href: string | null = null;
    try {
      const url = new URL(candidate);
      if (url.protocol === 'http:' || url.protocol === 'https:') href = url.href;
    } catch {
      href = null;
    }
    if (href === null) continue;
    if (start > last) parts.push(text.slice(last, start));
    parts.push(
      <a key={start} href={href} target="_blank" rel="noopener noreferrer">
        {candidate}
      </a>,
    );
    last = start + candidate.length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

/** "Today", "Yesterday", or the date, for the separator above a day's first message. */
export function dayLabel(iso: string, now: Date = new Date()): string {
  const day = new Date(iso);
  const startOf = (d: Date) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((startOf(now) - startOf(day)) / 86_400_000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  return day.toLocaleDateString([], { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' });
}

/** The local calendar day of an instant, to tell where a new day starts. */
export const dayKey = (iso: string): string => {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
};
