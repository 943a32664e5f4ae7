import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { bundleReport } from './bundle-report.ts';

/** Where the dev server and `vite preview` forward API and socket traffic (the gateway). */
const gateway = process.env.CODEROOM_GATEWAY ?? 'http://localhost:3000';

const proxy = {
  '/api': { target: gateway, changeOrigin: true },
  '/health': { target: gateway, changeOrigin: true },
  '/socket.io': { target: gateway, changeOrigin: true, ws: true },
};

export default defineConfig({
  // Explicit, so `vite build client/web` from the repo root and `vite build` here agree.
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Relative asset URLs: dist/ works from any path of any host (a CDN folder, the gateway's /).
  base: './',
  plugins: [
    svelte({
      // Options live here; there is no svelte.config.js. Svelte 5 strips TypeScript itself.
      configFile: false,
    }),
    bundleReport(),
  ],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The first screen (editor + terminal + socket.io) is one chunk of ~850 kB before gzip;
    // bundle-report.ts prints what counts (gzipped, against a 300 KiB budget).
    chunkSizeWarningLimit: 1000,
  },
  server: { proxy },
  preview: { proxy },
});
