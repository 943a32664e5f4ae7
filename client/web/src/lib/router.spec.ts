import { describe, expect, it } from '@jest/globals';
import { match, type Route } from './router.js';

const load = () => Promise.reject(new Error('not loaded in this test'));
const routes: Route[] = [
  { pattern: /^\/$/, load },
  { pattern: /^\/session\/(?<sessionId>[^/]+)$/, load },
];

describe('match', () => {
  it('maps a hash to its route and named parameters', () => {
    expect(match(routes, '').route).toBe(routes[0]);
    expect(match(routes, '#/').route).toBe(routes[0]);
    expect(match(routes, '#/session/s1')).toEqual({
      route: routes[1],
      params: { sessionId: 's1' },
      path: '/session/s1',
    });
    expect(match(routes, '#/nope')).toEqual({ route: null, params: {}, path: '/nope' });
  });
});
