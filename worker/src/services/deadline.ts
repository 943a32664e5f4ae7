/**
 * `p`, or a rejection with `late()`'s error once `ms` have passed without an answer (a hung
 * Docker engine answers nothing, ever). `p` itself goes on: callers clean up what it brings late.
 */
export function withDeadline<T>(p: Promise<T>, ms: number, late: () => Error): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), ms);
    timer.unref(); // a deadline alone keeps no process alive
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
