/**
 * Where the gateway is. The page is usually served by the gateway itself (same origin). Built
 * for a CDN, it finds the API URL, first match wins:
 * 1. at run time, `<meta name="coderoom-api-url" content="https://api.example.org">` in
 *    index.html (edit the built file when deploying; no rebuild);
 * 2. at build time, `VITE_CODEROOM_API_URL=https://api.example.org npx vite build`;
 * 3. otherwise the page's own origin.
 */
export function apiUrl(): string {
  return resolveApiUrl(
    document.querySelector('meta[name="coderoom-api-url"]')?.getAttribute('content'),
    import.meta.env.VITE_CODEROOM_API_URL,
    location.origin,
  );
}

export function resolveApiUrl(
  meta: string | null | undefined,
  built: string | undefined,
  origin: string,
): string {
  const url = meta?.trim() || built?.trim() || origin;
  return url.replace(/\/+$/, '');
}
