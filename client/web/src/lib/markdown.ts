import DOMPurify from 'dompurify';
import { marked } from 'marked';

// An image the author gave no text for is decoration to a screen reader (`alt=""`), rather
// than read out by its file name.
DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'IMG' && !node.hasAttribute('alt')) node.setAttribute('alt', '');
});

/**
 * A problem statement (Markdown, written by an instructor) as HTML that is safe to insert:
 * marked renders it, DOMPurify removes scripts, event handlers and `javascript:` links.
 */
export function renderMarkdown(markdown: string): string {
  const html = marked.parse(markdown, { async: false, gfm: true });
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
}
