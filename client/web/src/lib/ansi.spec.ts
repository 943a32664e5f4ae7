import { describe, expect, it } from '@jest/globals';
import { echoText, stripAnsi, terminalText } from './ansi.js';

describe('terminal text', () => {
  it('passes stdout through, colours and re-colours stderr after the program resets', () => {
    expect(terminalText('stdout', '\x1b[32mok\x1b[0m\n')).toBe('\x1b[32mok\x1b[0m\n');
    expect(terminalText('stderr', 'a\x1b[0mb\n')).toBe('\x1b[31ma\x1b[0m\x1b[31mb\n\x1b[0m');
  });

  it('strips colours and OSC sequences for copy and download', () => {
    expect(stripAnsi('\x1b[1;31merror\x1b[0m: \x1b]0;title\x07x')).toBe('error: x');
    expect(stripAnsi(echoText('bob\n'))).toBe('bob\n');
    expect(stripAnsi(echoText('bob'))).toBe('bob\n');
  });
});
