import { redisKeys } from './jobs.js';

/**
 * Releases the fair-share slots of a run that ended (or never made it into the queue): its id in
 * its owner's active set and, when it named a session, in the session's active set. The
 * gateway's admission script takes both slots and notes the session's set in the run's live
 * state (field `sessionSlots`), so whoever ends a run (gateway or worker) needs only the owner
 * and the run id. Idempotent. Used with EVAL/EVALSHA: `numberOfKeys`, then `args(...)`.
 */
export const releaseRunSlots = {
  lua: `
redis.call('ZREM', KEYS[1], ARGV[1])
local session = redis.call('HGET', KEYS[2], 'sessionSlots')
if session then redis.call('ZREM', session, ARGV[1]) end
return 1
`,
  numberOfKeys: 2,
  /** KEYS (the owner's active set, the run's state hash), then ARGV (the run id). */
  args: (ownerId: string, runId: string): [string, string, string] => [
    redisKeys.active(ownerId),
    redisKeys.state(runId),
    runId,
  ],
} as const;
