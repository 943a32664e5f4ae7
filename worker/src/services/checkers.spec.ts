import { describe, expect, it } from '@jest/globals';
import { check, normaliseExact, tokens } from './checkers.js';

describe('checkers', () => {
  it('exact: equal after normalising line endings, trailing blanks and final newlines', () => {
    expect(normaliseExact('a  \r\nb\t\r\n\n\n')).toBe('a\nb');
    expect(check('exact', '1 2\r\n3\n\n', '1 2\n3')).toBe(true);
    expect(check('exact', '1 2   \n3', '1 2\n3\n')).toBe(true);
    expect(check('exact', '1 2\r3', '1 2\n3')).toBe(true); // old Mac line ends
  });

  it('exact: leading blanks, inner spacing, blank lines between lines and case still count', () => {
    expect(check('exact', ' 1 2\n3', '1 2\n3')).toBe(false);
    expect(check('exact', '1  2\n3', '1 2\n3')).toBe(false);
    expect(check('exact', '1 2\n\n3', '1 2\n3')).toBe(false);
    expect(check('exact', 'Yes', 'YES')).toBe(false);
    expect(check('exact', '', '0')).toBe(false);
  });

  it('tokens: any whitespace between the same words', () => {
    expect(tokens('  a\tb\n\nc  ')).toEqual(['a', 'b', 'c']);
    expect(check('tokens', '1\n2   3\n', '1 2 3')).toBe(true);
    expect(check('tokens', '1 2', '1 2 3')).toBe(false);
    expect(check('tokens', '1 2 3 4', '1 2 3')).toBe(false);
    expect(check('tokens', '1.0', '1')).toBe(false);
  });

  it('float: numbers within the tolerance, absolute or relative; other tokens exact', () => {
    expect(check('float', '3.1415927', '3.14159265')).toBe(true); // 1e-6 by default
    expect(check('float', '3.1416', '3.14159265')).toBe(false);
    expect(check('float', '3.1416', '3.14159265', 1e-3)).toBe(true);
    // relative: 1e12 off by 1e5 is within 1e-6 of it
    expect(check('float', '1000000100000', '1e12')).toBe(true);
    expect(check('float', '1000002000000', '1e12')).toBe(false);
    expect(check('float', 'x= 0.5', 'x= .5000001')).toBe(true);
    expect(check('float', 'y= 0.5', 'x= 0.5')).toBe(false);
    expect(check('float', 'nan', 'nan')).toBe(true); // equal words
    expect(check('float', 'nan', '0')).toBe(false);
    expect(check('float', 'inf', '1e309')).toBe(false);
    expect(check('float', '1 2', '1')).toBe(false);
  });
});
