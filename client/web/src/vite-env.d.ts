/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** The gateway's URL when the page is not served by it (lib/config.ts). */
  readonly VITE_CODEROOM_API_URL?: string;
}
