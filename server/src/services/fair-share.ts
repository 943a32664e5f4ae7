/** BullMQ's largest priority number (bullmq classes/job.js PRIORITY_LIMIT). */
export const MAX_PRIORITY = 2 ** 21 - 1;

/**
 * The queue priority of a new run (lower runs first; FIFO among equal priorities), from its
 * ranks at admission: how many runs its user has queued or running, this one included, and
 * the same count for its session (0 without one). A user's n-th concurrent run waits behind
 * every other user's first ones; a session counts as one user towards everyone outside it
 * (a class of 30 cannot crowd out the rest), while inside it runs go in arrival order.
 */
export function runPriority(userRank: number, sessionRank: number): number {
  return Math.min(MAX_PRIORITY, Math.max(1, userRank, sessionRank));
}
