import type { Component } from 'svelte';
import { Store } from './store';

/**
 * A hash router (`#/`, later `#/join/ABC123`, `#/session/<id>`, `#/dashboard/<id>`): works from
 * any static host or CDN with no server-side rewrites. A route's screen is loaded on demand, so
 * each screen beyond the first can be a chunk of its own (`() => import('./screens/X.svelte')`).
 */
export interface Route {
  /** Matched against the path after `#`; named groups become the screen's `params`. */
  pattern: RegExp;
  load: () => Promise<Component<{ params: Record<string, string> }>>;
}

export interface Match {
  route: Route | null;
  params: Record<string, string>;
  path: string;
}

export function match(routes: readonly Route[], hash: string): Match {
  const path = hash.replace(/^#/, '') || '/';
  for (const route of routes) {
    const m = route.pattern.exec(path);
    if (m) return { route, params: { ...m.groups }, path };
  }
  return { route: null, params: {}, path };
}

export class Router extends Store<Match> {
  constructor(private readonly routes: readonly Route[]) {
    super(match(routes, location.hash));
    addEventListener('hashchange', () => this.set(match(this.routes, location.hash)));
  }
}
