import { getContext, setContext } from 'svelte';
import type { Connection } from './connection';
import type { ThemeStore } from './theme';

/** What every screen shares: the one connection and the theme. */
export interface AppServices {
  connection: Connection;
  themes: ThemeStore;
}

const KEY = Symbol('coderoom');

export function provideServices(services: AppServices): void {
  setContext(KEY, services);
}

export function services(): AppServices {
  const s = getContext<AppServices | undefined>(KEY);
  if (!s) throw new Error('services() outside <App>');
  return s;
}
