import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

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
  plugins: [
    svelte({
      // Options live here; there is no svelte.config.js. Svelte 5 strips TypeScript itself.
      configFile: false,
    }),
  ],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
  },
  server: { proxy },
  preview: { proxy },
});
