import type { Route } from './lib/router';
import EditorScreen from './screens/EditorScreen.svelte';

/**
 * The screens, by hash path. The editor is the first screen and is bundled with the app; the
 * classroom screens (join, session, instructor dashboard) go here as lazy chunks:
 * `{ pattern: /^\/session\/(?<sessionId>[^/]+)$/, load: async () => (await import('./screens/SessionScreen.svelte')).default }`.
 */
export const ROUTES: Route[] = [{ pattern: /^\/$/, load: () => Promise.resolve(EditorScreen) }];
