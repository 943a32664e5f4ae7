import type { Redis } from 'ioredis';
import {
  CLASSROOM_LIMITS,
  type Activity,
  type DashboardChange,
  type DashboardRun,
  type DashboardUpdate,
  type Member,
  type Progress,
  type SessionLockedEvent,
} from '@coderoom/contracts';
import { defineScript, type RedisScript } from './redis-script.js';

/**
 * The live side of a classroom session in Redis, shared by gateways (members, presence) and
 * workers (runs, tests, progress). Every change goes through one Lua script that, atomically:
 * numbers it (the session's dashboard seq), folds it into the session's dashboard state (the
 * snapshot a `dashboard:watch` answers), appends it to a bounded replay log, and publishes it
 * on one channel, followed by the new presence list when members or what they run changed.
 * Because Redis runs scripts one at a time and delivers a channel's messages in publish order,
 * every gateway sees every session's updates in seq order, and a snapshot read by one script
 * holds exactly the updates up to its seq: that is what makes the dashboard exact.
 *
 * MongoDB stays the state of record (sessions, memberships, progress, runs); this state expires
 * after a week without changes and is then seeded again from MongoDB (`seed`).
 */

/** The pub/sub channel every gateway subscribes to. */
export const CLASSROOM_CHANNEL = 'coderoom:classroom';
/** Dashboard updates a session's replay log keeps (older ones: the snapshot has them). */
export const DASHBOARD_LOG_MAX = 2000;
/** Seconds the live state of a session is kept after its last change. */
export const SESSION_STATE_TTL = 7 * 24 * 3600;

export const sessionKeys = {
  seq: (s: string) => `coderoom:session:${s}:dseq`,
  log: (s: string) => `coderoom:session:${s}:dlog`,
  /** Hash: m:<user> member, a:<user> activity, r:<run> run, p:<user>:<problem> progress. */
  state: (s: string) => `coderoom:session:${s}:dstate`,
  /** Sorted set of the state's run ids by creation time (the newest CLASSROOM_LIMITS.dashboardRuns). */
  runs: (s: string) => `coderoom:session:${s}:druns`,
  /** Hash: socket id -> `<user id> <gateway node id>` of every connection in the session. */
  conns: (s: string) => `coderoom:session:${s}:conns`,
  /** Set of gateway node ids that hold connections in sessions. */
  nodes: 'coderoom:gateways',
  /** Present while gateway node `n` is alive (short TTL, refreshed). */
  nodeAlive: (n: string) => `coderoom:gateway:${n}:alive`,
  /** Set of the sessions where node `n` holds connections. */
  nodeSessions: (n: string) => `coderoom:gateway:${n}:sessions`,
  /** Held by the one node that cleans up after dead node `n`. */
  nodeSweep: (n: string) => `coderoom:gateway:${n}:sweep`,
};

/** What travels on CLASSROOM_CHANNEL. */
export type ClassroomMessage =
  | { t: 'd'; u: DashboardUpdate }
  | { t: 'p'; s: string; m: Member[] }
  /** A session's stored settings changed (close, members): drop cached copies. */
  | { t: 's'; s: string }
  /**
   * The session was locked or unlocked: drop cached copies, then tell the members (each node
   * its own), so that an edit sent after the news is judged by the new setting on any node.
   */
  | { t: 'l'; s: string; e: SessionLockedEvent };

// One script for every change, so numbering, state, log and publishing are one atomic step.
// KEYS: seq, log, state, runs, conns. ARGV: op, session id, channel, ttl, log max, runs max,
// then per op: apply -> change JSON, run createdAt ms | conn -> add/remove, socket id, user id,
// node id, member JSON (add) | seed -> field/value pairs (runs: `r:<id>` with createdAt in ARGV).
const CHANGE = `
local op, sid, channel = ARGV[1], ARGV[2], ARGV[3]
local ttl, logMax, runsMax = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local presenceChanged = false

local function members()
  local all = redis.call('HGETALL', KEYS[3])
  local byUser, acts = {}, {}
  for i = 1, #all, 2 do
    local f, v = all[i], all[i + 1]
    local kind, rest = string.sub(f, 1, 2), string.sub(f, 3)
    if kind == 'm:' then byUser[rest] = cjson.decode(v)
    elseif kind == 'a:' then acts[rest] = cjson.decode(v) end
  end
  local list = {}
  for user, m in pairs(byUser) do
    m.activity = acts[user] or cjson.null
    table.insert(list, m)
  end
  table.sort(list, function(a, b)
    if a.role ~= b.role then return a.role < b.role end
    if a.name ~= b.name then return a.name < b.name end
    return a.userId < b.userId
  end)
  return list
end

local function publishPresence()
  local list = members()
  local json = #list == 0 and '[]' or cjson.encode(list)
  redis.call('PUBLISH', channel, '{"t":"p","s":' .. cjson.encode(sid) .. ',"m":' .. json .. '}')
end

local function apply(change, createdAt)
  local seq = redis.call('INCR', KEYS[1])
  change.seq = seq
  change.sessionId = sid
  local kind = change.kind
  if kind == 'member' then
    local m = change.member
    local f = 'm:' .. m.userId
    if change.removed then
      redis.call('HDEL', KEYS[3], f)
      redis.call('HDEL', KEYS[3], 'a:' .. m.userId)
    else
      local stored = { userId = m.userId, name = m.name, role = m.role, online = m.online }
      redis.call('HSET', KEYS[3], f, cjson.encode(stored))
    end
    presenceChanged = true
  elseif kind == 'run' then
    local r = change.run
    redis.call('HSET', KEYS[3], 'r:' .. r.runId, cjson.encode(r))
    redis.call('ZADD', KEYS[4], createdAt, r.runId)
    local n = redis.call('ZCARD', KEYS[4])
    if n > runsMax then
      for _, old in ipairs(redis.call('ZRANGE', KEYS[4], 0, n - runsMax - 1)) do
        redis.call('HDEL', KEYS[3], 'r:' .. old)
      end
      redis.call('ZREMRANGEBYRANK', KEYS[4], 0, n - runsMax - 1)
    end
    local af = 'a:' .. r.userId
    if r.status == 'finished' then
      local cur = redis.call('HGET', KEYS[3], af)
      if cur and cjson.decode(cur).runId == r.runId then
        redis.call('HDEL', KEYS[3], af)
        presenceChanged = true
      end
    else
      local cur = redis.call('HGET', KEYS[3], af)
      local act = cjson.encode({ runId = r.runId, status = r.status })
      if cur ~= act then
        redis.call('HSET', KEYS[3], af, act)
        presenceChanged = true
      end
    end
  elseif kind == 'progress' then
    local p = change.progress
    redis.call('HSET', KEYS[3], 'p:' .. p.userId .. ':' .. p.problemId, cjson.encode(p))
  end
  local json = cjson.encode(change)
  redis.call('RPUSH', KEYS[2], json)
  redis.call('LTRIM', KEYS[2], -logMax, -1)
  redis.call('PUBLISH', channel, '{"t":"d","u":' .. json .. '}')
  return seq
end

local result = 0
if op == 'apply' then
  result = apply(cjson.decode(ARGV[7]), tonumber(ARGV[8]) or 0)
elseif op == 'conn' then
  local how, socket, user, node = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
  if how == 'add' then
    redis.call('HSET', KEYS[5], socket, user .. ' ' .. node)
  else
    if redis.call('HDEL', KEYS[5], socket) == 0 then return 0 end
  end
  local online = false
  local conns = redis.call('HVALS', KEYS[5])
  for _, v in ipairs(conns) do
    -- '<user id> <node id>': the user id is all before the last space (it may hold spaces).
    if string.match(v, '^(.*) [^ ]*$') == user then online = true; break end
  end
  local cur = redis.call('HGET', KEYS[3], 'm:' .. user)
  local m = cur and cjson.decode(cur) or (ARGV[11] ~= '' and cjson.decode(ARGV[11]) or nil)
  if m and (not cur or m.online ~= online) then
    m.online = online
    result = apply({ kind = 'member', member = m }, 0)
  end
  redis.call('EXPIRE', KEYS[5], ttl)
elseif op == 'seed' then
  for i = 7, #ARGV, 3 do
    local f, v, at = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
    if redis.call('HSETNX', KEYS[3], f, v) == 1 and string.sub(f, 1, 2) == 'r:' then
      redis.call('ZADD', KEYS[4], at, string.sub(f, 3))
    end
  end
  redis.call('SETNX', KEYS[1], 0)
  redis.call('HSET', KEYS[3], 'x:seeded', '1')
end
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ttl) end
if presenceChanged then publishPresence() end
return result
`;

// KEYS: seq, state, runs. ARGV: runs max. The state and its seq, read in one step.
const SNAPSHOT = `
local seq = tonumber(redis.call('GET', KEYS[1]) or '-1')
local ids = redis.call('ZREVRANGE', KEYS[3], 0, tonumber(ARGV[1]) - 1)
return { seq, redis.call('HGETALL', KEYS[2]), ids }
`;

export interface SessionState {
  /** The seq of the last update the state includes; -1 when there is no state (expired). */
  seq: number;
  /** False until the state was seeded from MongoDB (new, or expired and recreated by a change). */
  seeded: boolean;
  members: (Member & { activity: Activity | null })[];
  /** Newest first. */
  runs: DashboardRun[];
  progress: Progress[];
}

export class SessionFeed {
  private readonly change: RedisScript<number>;
  private readonly snapshotScript: RedisScript<[number, string[], string[]]>;

  constructor(private readonly redis: Redis) {
    this.change = defineScript(redis, 'coderoomSessionChange', CHANGE, 5);
    this.snapshotScript = defineScript(redis, 'coderoomSessionSnapshot', SNAPSHOT, 3);
  }

  private keys(sessionId: string): string[] {
    return [
      sessionKeys.seq(sessionId),
      sessionKeys.log(sessionId),
      sessionKeys.state(sessionId),
      sessionKeys.runs(sessionId),
      sessionKeys.conns(sessionId),
    ];
  }

  private common(op: string, sessionId: string): (string | number)[] {
    return [
      op,
      sessionId,
      CLASSROOM_CHANNEL,
      SESSION_STATE_TTL,
      DASHBOARD_LOG_MAX,
      CLASSROOM_LIMITS.dashboardRuns,
    ];
  }

  /** Numbers, stores and publishes one dashboard change; resolves with its seq. */
  apply(sessionId: string, change: DashboardChange): Promise<number> {
    const createdAt = change.kind === 'run' ? Date.parse(change.run.createdAt) : 0;
    return this.change(
      ...this.keys(sessionId),
      ...this.common('apply', sessionId),
      JSON.stringify({ ...change, at: new Date().toISOString() }),
      createdAt,
    );
  }

  /**
   * A connection entered (`add`) or left (`remove`) a session. When that changes whether its
   * user is online, a member update and the presence list are published. `member` (for `add`)
   * is the member to record if the state does not know them yet.
   */
  connection(
    sessionId: string,
    how: 'add' | 'remove',
    socketId: string,
    userId: string,
    nodeId: string,
    member?: Omit<Member, 'activity'>,
  ): Promise<number> {
    return this.change(
      ...this.keys(sessionId),
      ...this.common('conn', sessionId),
      how,
      socketId,
      userId,
      nodeId,
      member ? JSON.stringify(member) : '',
    );
  }

  /**
   * Fills a session's state from MongoDB where it has none (expired, or Redis lost it); fields
   * already there win, so a seed racing live changes loses nothing.
   */
  async seed(
    sessionId: string,
    members: Omit<Member, 'activity'>[],
    runs: DashboardRun[],
    progress: Progress[],
  ): Promise<void> {
    const args: (string | number)[] = [];
    for (const m of members) args.push(`m:${m.userId}`, JSON.stringify(m), 0);
    for (const r of runs) args.push(`r:${r.runId}`, JSON.stringify(r), Date.parse(r.createdAt));
    for (const p of progress) args.push(`p:${p.userId}:${p.problemId}`, JSON.stringify(p), 0);
    await this.change(...this.keys(sessionId), ...this.common('seed', sessionId), ...args);
  }

  /** The session's dashboard state and the seq it covers, read atomically. */
  async state(sessionId: string): Promise<SessionState> {
    const [seq, flat, runIds] = await this.snapshotScript(
      sessionKeys.seq(sessionId),
      sessionKeys.state(sessionId),
      sessionKeys.runs(sessionId),
      CLASSROOM_LIMITS.dashboardRuns,
    );
    const members = new Map<string, Member & { activity: Activity | null }>();
    const activity = new Map<string, Activity>();
    const runs = new Map<string, DashboardRun>();
    const progress: Progress[] = [];
    let seeded = false;
    for (let i = 0; i < flat.length; i += 2) {
      const [field, value] = [flat[i], flat[i + 1]];
      const id = field.slice(2);
      switch (field.slice(0, 2)) {
        case 'm:':
          members.set(id, { ...(JSON.parse(value) as Member), activity: null });
          break;
        case 'a:':
          activity.set(id, JSON.parse(value) as Activity);
          break;
        case 'r:':
          runs.set(id, JSON.parse(value) as DashboardRun);
          break;
        case 'p:':
          progress.push(JSON.parse(value) as Progress);
          break;
        case 'x:':
          seeded ||= id === 'seeded';
          break;
        default:
          break;
      }
    }
    for (const [user, act] of activity) {
      const m = members.get(user);
      if (m) m.activity = act;
    }
    return {
      seq: Number(seq),
      seeded,
      members: [...members.values()],
      runs: runIds.map((id) => runs.get(id)).filter((r): r is DashboardRun => r !== undefined),
      progress,
    };
  }

  /** Updates after `afterSeq` up to `toSeq` still in the replay log, in order. */
  async backlog(sessionId: string, afterSeq: number, toSeq: number): Promise<DashboardUpdate[]> {
    if (toSeq <= afterSeq) return [];
    const raw = await this.redis.lrange(sessionKeys.log(sessionId), 0, -1);
    return raw
      .map((j) => JSON.parse(j) as DashboardUpdate)
      .filter((u) => u.seq > afterSeq && u.seq <= toSeq);
  }

  /** Tells every gateway that a session's stored settings changed. */
  async invalidate(sessionId: string): Promise<void> {
    await this.publish({ t: 's', s: sessionId });
  }

  /**
   * Tells every gateway that a session was locked or unlocked (they drop their cached copies,
   * then push `session:locked` to their members). One channel: every node sees these in one
   * order, after the invalidations published before them.
   */
  async locked(event: SessionLockedEvent): Promise<void> {
    await this.publish({ t: 'l', s: event.sessionId, e: event });
  }

  private async publish(message: ClassroomMessage): Promise<void> {
    await this.redis.publish(CLASSROOM_CHANNEL, JSON.stringify(message));
  }
}
