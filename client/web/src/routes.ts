import type { Route } from './lib/router';
import EditorScreen from './screens/EditorScreen.svelte';

/**
 * The screens, by hash path. The editor is the first screen and is bundled with the app; the
 * classroom screens are lazy chunks, fetched when their route is first opened.
 */
export const ROUTES: Route[] = [
  { pattern: /^\/$/, load: () => Promise.resolve(EditorScreen) },
  {
    pattern: /^\/join(?:\/(?<code>[^/]+))?$/,
    load: async () => (await import('./screens/JoinScreen.svelte')).default,
  },
  {
    pattern: /^\/teach$/,
    load: async () => (await import('./screens/TeachScreen.svelte')).default,
  },
  {
    pattern: /^\/session\/(?<sessionId>[^/]+)$/,
    load: async () => (await import('./screens/SessionScreen.svelte')).default,
  },
  {
    pattern: /^\/dashboard\/(?<sessionId>[^/]+)$/,
    load: async () => (await import('./screens/DashboardScreen.svelte')).default,
  },
];
