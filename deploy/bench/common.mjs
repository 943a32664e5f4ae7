// Small helpers shared by the benchmarks in this folder (latency.mjs, load.mjs).
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** The p-th percentile (nearest rank) of xs; undefined for an empty list. */
export const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Polls url until it answers 2xx; false after timeoutMs. */
export async function waitHttp(url, timeoutMs = 30000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return true;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  return false;
}

/** A token from the gateway's dev-token route (DEV_TOKENS=true); the user id is `dev:<name>`. */
export async function devToken(url, name, role) {
  const res = await fetch(`${url}/api/auth/dev-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, role }),
  });
  if (!res.ok) throw new Error(`dev-token: HTTP ${res.status}`);
  return (await res.json()).token;
}

/** "2 cores (AMD EPYC ...), 24 GiB" */
export const machine = () =>
  `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
