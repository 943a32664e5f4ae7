export const INDENT = '    ';

/** Replace `value[start, end)` by `text`, then select `[selStart, selEnd)`. */
export interface TextEdit {
  start: number;
  end: number;
  text: string;
  selStart: number;
  selEnd: number;
}

/**
 * What Tab / Shift+Tab does in the code editor. Tab with a caret or a selection within one line
 * inserts spaces up to the next indent stop; with a multi-line selection it indents every
 * selected line. Shift+Tab removes up to one indent from every selected line.
 */
export function indentEdit(
  value: string,
  selStart: number,
  selEnd: number,
  outdent: boolean,
): TextEdit | null {
  const lineStart = value.lastIndexOf('\n', selStart - 1) + 1;
  const multiLine = value.slice(selStart, selEnd).includes('\n');

  if (!outdent && !multiLine) {
    const column = selStart - lineStart;
    const text = ' '.repeat(INDENT.length - (column % INDENT.length));
    const caret = selStart + text.length;
    return { start: selStart, end: selEnd, text, selStart: caret, selEnd: caret };
  }

  // Whole lines touched by the selection (a selection ending at a line start excludes that line).
  const lastEnd = selEnd > selStart && value[selEnd - 1] === '\n' ? selEnd - 1 : selEnd;
  let blockEnd = value.indexOf('\n', lastEnd);
  if (blockEnd === -1) blockEnd = value.length;
  const lines = value.slice(lineStart, blockEnd).split('\n');

  let firstDelta = 0;
  let totalDelta = 0;
  const changed = lines.map((line, i) => {
    let next: string;
    if (outdent) {
      const n = /^ */.exec(line)?.[0].length ?? 0;
      next = line.slice(Math.min(n, INDENT.length));
    } else {
      next = line === '' ? line : INDENT + line;
    }
    const delta = next.length - line.length;
    if (i === 0) firstDelta = delta;
    totalDelta += delta;
    return next;
  });
  if (totalDelta === 0) return null;

  const text = changed.join('\n');
  return {
    start: lineStart,
    end: blockEnd,
    text,
    selStart: Math.max(lineStart, selStart + firstDelta),
    selEnd: Math.max(lineStart, selEnd + (multiLine ? totalDelta : firstDelta)),
  };
}

/**
 * Applies an edit to a textarea, through the browser's editing commands where possible so that
 * undo (Ctrl+Z) keeps working, and returns the new value.
 */
export function applyEdit(el: HTMLTextAreaElement, edit: TextEdit): string {
  el.focus();
  el.setSelectionRange(edit.start, edit.end);
  let done = false;
  try {
    // Deprecated but still the only way to keep the native undo stack of a textarea.
    done = document.execCommand('insertText', false, edit.text);
  } catch {
    done = false;
  }
  if (!done) el.setRangeText(edit.text, edit.start, edit.end);
  el.setSelectionRange(edit.selStart, edit.selEnd);
  return el.value;
}
