import type { RunMode, SourceFile } from './runs.js';

/** How a submission's output is compared with a test's expected output. */
export const CHECKERS = ['exact', 'tokens', 'float'] as const;
export type Checker = (typeof CHECKERS)[number];

/** One test case of a submission, as the worker gets it (hidden ones included: never to students). */
export interface SubmitTest {
  index: number;
  stdin: string;
  expected: string;
  points: number;
  hidden: boolean;
}

/**
 * What a `mode: "submit"` job grades against (a copy of the problem, taken when the run was
 * admitted). The worker compiles once and runs every test in the same sandbox, each with its
 * own clock: `wallMs`/`cpuMs` from the problem, or the worker's SUBMIT_* defaults.
 */
export interface SubmitSpec {
  problemId: string;
  checker: Checker;
  /** `float` checker: absolute or relative difference allowed (default 1e-6). */
  tolerance?: number;
  wallMs?: number;
  cpuMs?: number;
  memoryMb?: number;
  tests: SubmitTest[];
}

/** BullMQ queue that carries runs from gateways to workers. */
export const RUN_QUEUE = 'runs';

/** The job a gateway enqueues for a run; the job id is the run id. */
export interface RunJob {
  runId: string;
  ownerId: string;
  language: string;
  mode: RunMode;
  files: SourceFile[];
  stdin: string;
  interactive: boolean;
  /** The classroom session the run belongs to (its events also feed the session's dashboard). */
  sessionId?: string | null;
  /** When the run was admitted (ISO); for the session's dashboard. */
  createdAt?: string;
  /** Submit mode: the problem's tests (absent in run mode). */
  submit?: SubmitSpec;
}

/**
 * Redis keys and channels shared by gateways and workers. Everything about a live run lives
 * under one prefix and expires with the replay log's TTL.
 */
export const redisKeys = {
  /** List of JSON OutputChunks, in seq order (the replay log). */
  log: (runId: string) => `coderoom:run:${runId}:log`,
  /**
   * Hash: status, lastSeq, startedAt; `result` (JSON) once finished. Written first by the
   * gateway's admission: ownerId, language, mode, interactive (1/0), createdAt (ISO), and
   * sessionSlots (the `sessionActive` key) when the run named a session.
   */
  state: (runId: string) => `coderoom:run:${runId}:state`,
  /** Set once by whoever finishes the run, so `run:finished` is sent exactly once. */
  finished: (runId: string) => `coderoom:run:${runId}:finished`,
  /** Set when a cancel was requested, read by the worker before and during the run. */
  cancel: (runId: string) => `coderoom:run:${runId}:cancel`,
  /** Sorted set of a user's unfinished run ids, scored by when the slot expires. */
  active: (userId: string) => `coderoom:user:${userId}:active`,
  /** Sorted set of a session's unfinished run ids (fair share between sessions), like `active`. */
  sessionActive: (sessionId: string) => `coderoom:session:${sessionId}:active`,
  /** Hash: run id -> JSON { workerId, ownerId } of every run a worker is executing now. */
  running: 'coderoom:running',
  /** Present (with a short TTL) while a worker process is alive. */
  workerAlive: (workerId: string) => `coderoom:worker:${workerId}:alive`,
  /** Runs a user started in a fixed window (`minute` or `day` number since the epoch). */
  runsInWindow: (userId: string, window: 'm' | 'd', n: number) =>
    `coderoom:user:${userId}:runs:${window}:${n}`,
  /** Set of worker ids that announced capacity; each has `workerCapacity` while alive. */
  workers: 'coderoom:workers',
  /** JSON RunLimits: a live worker's default limits, for `languages:list` (expires likewise). */
  workerLimits: (workerId: string) => `coderoom:worker:${workerId}:limits`,
  /**
   * JSON string[]: the language ids (other versions' too) whose sandbox image a live worker
   * found; gateways list and admit only what some live worker has (expires likewise).
   */
  workerLanguages: (workerId: string) => `coderoom:worker:${workerId}:languages`,
  /** Concurrency of a live worker (expires with its heartbeat). */
  workerCapacity: (workerId: string) => `coderoom:worker:${workerId}:capacity`,
  /**
   * Sorted set of runs admitted but not in the queue yet (scored by the admission's ms epoch):
   * the admission counts them as waiting, so that a burst of run:starts admitted before any of
   * them is enqueued cannot overfill the queue; removed once the run is enqueued (or refused).
   */
  admitting: 'coderoom:queue:admitting',
  /** Moving average of how long a run occupies a worker slot, in ms. */
  runMsAverage: 'coderoom:stats:run-ms',
  /** Runs finished during one epoch second (kept a minute): the queue's real drain rate. */
  runsFinishedIn: (second: number | '') => `coderoom:stats:finished:${second}`,
  /** List of JSON { data, eof } the owner sent with run:input, in order (interactive runs). */
  stdin: (runId: string) => `coderoom:run:${runId}:stdin`,
  /** Pub/sub channel telling workers that a run's stdin list grew (message: run id). */
  stdinChannel: 'coderoom:stdin',
  /** When the reconciler first found this run lost (ms epoch); it acts on a second look. */
  suspect: (runId: string) => `coderoom:run:${runId}:suspect`,
  /** Held (briefly) by the one worker that reconciles stored runs with Redis right now. */
  reconcileLease: 'coderoom:reconcile:lease',
  /** Pub/sub channel on which workers hear cancel requests (message: run id). */
  cancelChannel: 'coderoom:cancel',
  /**
   * Sharded pub/sub channel (SPUBLISH / SSUBSCRIBE, Redis >= 7) of one run's feed: JSON
   * RunFeedEvents in order. Only gateways with watchers of the run subscribe to it.
   */
  feedChannel: (runId: string) => `coderoom:run:${runId}:feed`,
  /** Sharded channel of one gateway's own feed probe (it checks that the feed reaches it). */
  feedProbeChannel: (nodeId: string) => `coderoom:feed-probe:${nodeId}`,
} as const;
