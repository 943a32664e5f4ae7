import type { OutputStream } from '@coderoom/sdk';

const STDERR = '\x1b[31m';
const ECHO = '\x1b[36m';
const RESET = '\x1b[0m';
/** SGR resets a program may print: `ESC[m`, `ESC[0m`. */
const SGR_RESET = /\x1b\[0?m/g;

/**
 * What to write to the terminal for a chunk: stdout as the program wrote it (its own ANSI
 * colours included); stderr in red, re-applied after every reset the program prints so a
 * coloured error message stays recognisable as stderr.
 */
export function terminalText(stream: Exclude<OutputStream, 'compile'>, data: string): string {
  if (stream === 'stdout') return data;
  return STDERR + data.replace(SGR_RESET, `$&${STDERR}`) + RESET;
}

/** Input the user sent to the program's stdin, shown like a terminal's echo (one newline). */
export function echoText(input: string): string {
  return `${ECHO}${input.replace(/\n$/, '')}${RESET}\n`;
}

/** The text without ANSI escape sequences (for copy and download). */
export function stripAnsi(text: string): string {
  // CSI sequences (colours, cursor moves) and OSC sequences (titles, links).
  return text.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '');
}
