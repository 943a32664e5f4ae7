import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { tags as t } from '@lezer/highlight';

/**
 * Syntax colours as CSS variables (app.css sets them per theme), so light and dark both keep
 * WCAG AA contrast; CodeMirror's default style is meant for light backgrounds only.
 */
export const highlighting = syntaxHighlighting(
  HighlightStyle.define([
    {
      tag: [t.keyword, t.controlKeyword, t.moduleKeyword, t.operatorKeyword],
      color: 'var(--hl-keyword)',
    },
    { tag: [t.string, t.special(t.string), t.regexp, t.character], color: 'var(--hl-string)' },
    { tag: [t.number, t.bool, t.null, t.atom], color: 'var(--hl-number)' },
    {
      tag: [t.comment, t.lineComment, t.blockComment],
      color: 'var(--hl-comment)',
      fontStyle: 'italic',
    },
    { tag: [t.function(t.variableName), t.function(t.propertyName)], color: 'var(--hl-function)' },
    { tag: [t.typeName, t.className, t.namespace], color: 'var(--hl-type)' },
    { tag: [t.definition(t.variableName)], color: 'var(--hl-definition)' },
    { tag: [t.meta, t.processingInstruction], color: 'var(--hl-meta)' },
    { tag: t.invalid, color: 'var(--bad-text)' },
  ]),
);
