import { execFileSync } from 'node:child_process';

/**
 * The sandbox tiers a worker can run programs on. A tier is a name and the worker environment
 * that selects it; tests that must hold on every tier (languages.e2e.spec.ts) run once per entry.
 * (hostile.e2e.spec.ts runs the corpus on the container and slot tiers; gvisor.e2e.spec.ts a part
 * of it under gVisor.)
 */
export interface Tier {
  name: string;
  /** Added to the test worker's environment. */
  workerEnv: Record<string, string>;
  /** Null when the tier works on this host; else why not (its tests are skipped with a note). */
  unusable(): string | null;
}

const IMAGE_TAG = process.env.SANDBOX_IMAGE_TAG || 'latest';

/** The OCI runtimes Docker has registered. */
function runtimes(): string[] {
  try {
    const json = execFileSync('docker', ['info', '--format', '{{json .Runtimes}}']).toString();
    return Object.keys(JSON.parse(json) as Record<string, unknown>);
  } catch {
    return [];
  }
}

/** Null when a gVisor sandbox starts here; else why not (not registered, or not working). */
export function gvisorUnusable(): string | null {
  if (!runtimes().includes('runsc')) return 'Docker has no "runsc" runtime registered';
  try {
    execFileSync(
      'docker',
      ['run', '--rm', '--runtime=runsc', '--network=none', '--entrypoint', 'true'].concat(
        `coderoom-sandbox-base:${IMAGE_TAG}`,
      ),
      { stdio: 'pipe', timeout: 60_000 },
    );
    return null;
  } catch (err) {
    return `a runsc container does not start on this host: ${String((err as Error).message).slice(0, 200)}`;
  }
}

export const TIERS: Tier[] = [
  /** A fresh container per run under Docker's default runtime (runc). */
  { name: 'runc', workerEnv: {}, unusable: () => null },
  /** The same, under gVisor's user-space kernel (README, "Optional isolation: gVisor"). */
  { name: 'gvisor', workerEnv: { SANDBOX_RUNTIME: 'runsc' }, unusable: gvisorUnusable },
  /**
   * Long-lived slot containers, a fresh bubblewrap sandbox per run (sandbox/slot/README.md); it
   * needs nothing from the host beyond Docker (bubblewrap is in the images).
   */
  { name: 'slot', workerEnv: { SANDBOX_TIER: 'slot' }, unusable: () => null },
];
