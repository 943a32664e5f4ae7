/** The answer of `GET /ready` (gateway and worker): every dependency's check, and the sum. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean>;
}

/**
 * Runs named checks at once; a check that throws counts as failed. Both apps answer `/ready`
 * from this, 200 when every check passed and 503 (with the checks) otherwise.
 */
export async function readiness(
  checks: Record<string, () => Promise<boolean> | boolean>,
): Promise<Readiness> {
  const names = Object.keys(checks);
  const results = await Promise.all(
    names.map(async (n) => {
      try {
        return await checks[n]();
      } catch {
        return false;
      }
    }),
  );
  const out = Object.fromEntries(names.map((n, i) => [n, results[i]]));
  return { ready: results.every(Boolean), checks: out };
}
