import { describe, expect, it } from '@jest/globals';
import { resolveApiUrl } from './config.js';

describe('resolveApiUrl', () => {
  it('prefers the runtime meta tag, then the build-time variable, then the page origin', () => {
    expect(resolveApiUrl('https://api.example.org/', 'https://built', 'https://page')).toBe(
      'https://api.example.org',
    );
    expect(resolveApiUrl('', 'https://built', 'https://page')).toBe('https://built');
    expect(resolveApiUrl(null, undefined, 'https://page')).toBe('https://page');
    expect(resolveApiUrl('  ', ' ', 'https://page')).toBe('https://page');
  });
});
