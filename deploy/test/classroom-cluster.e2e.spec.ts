import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import * as Y from 'yjs';
import { sessionKeys } from '@coderoom/platform';
import type {
  DashboardUpdate,
  RunFinishedEvent,
  RunTestEvent,
  SessionLockedEvent,
  Verdict,
} from '@coderoom/contracts';
import {
  callEvent,
  gatewayMetrics,
  okEvent,
  startStack,
  until,
  withLogs,
  type ClientSocket,
  type Stack,
} from '../../server/test/harness.js';

// The classroom on the cluster (issue 13, "Tests and numbers"): two gateways behind HAProxy
// (sticky cookie), two workers, real Redis, FerretDB and Docker. An instructor on each node
// watches the dashboard while 30 students, connected through the balancer and spread over both
// nodes, all submit at once to a problem with a visible and two hidden tests: programs that
// pass, fail, do not compile, run out of time, and print their input (to leak the hidden one).
// Then: every submission's updates reach both dashboards once, in seq order without gaps; each
// verdict and score is right; so are the progress table and the results CSV; and nothing any
// student's socket received holds a hidden test's input, expected output or output.
// A second test: `session:locked` reaches the members of both nodes.
let stack: Stack;
let redis: Redis;

beforeAll(async () => {
  stack = await startStack({
    name: 'classroom-cluster',
    redisDb: 61,
    gateways: 2,
    balancer: true,
    workers: 2,
    workerEnv: { WORKER_CONCURRENCY: '2' },
    // 38 submissions at once queue far longer than BUSY_WAIT_MS's 5 s: here every one is to
    // be admitted (backpressure has its own test, backpressure.e2e.spec.ts).
    gatewayEnv: { BUSY_WAIT_MS: '600000' },
  });
  redis = new Redis(stack.redisUrl);
}, 120_000);

afterAll(async () => {
  if (process.env.DEBUG_LOGS) console.log(stack?.logs());
  await redis?.quit();
  await stack?.stop();
}, 60_000);

const STUDENTS = 30;
/** In every hidden test's input (and, upper-cased, its expected output): what must not leak. */
const SECRET = `zq${randomBytes(6).toString('hex')}`;
const MAX_SCORE = 6;

const problemPayload = {
  title: 'Shout',
  statement: 'Print the line you read in **upper case**.',
  languages: ['python', 'c'],
  checker: 'exact' as const,
  // Small, so that the programs that run out of time cost the machine little.
  limits: { wallMs: 2000 },
  tests: [
    { stdin: 'visible alpha\n', expected: 'VISIBLE ALPHA\n', points: 1 },
    {
      stdin: `${SECRET} one\n`,
      expected: `${SECRET.toUpperCase()} ONE\n`,
      points: 2,
      hidden: true,
    },
    {
      stdin: `${SECRET} two\n`,
      expected: `${SECRET.toUpperCase()} TWO\n`,
      points: 3,
      hidden: true,
    },
  ],
};

interface Program {
  language: 'python' | 'c';
  source: string;
  verdict: Verdict;
  score: number;
  /** Verdict of each test, by index (none when it does not compile). */
  tests: string[];
}

const PROGRAMS = {
  'ac-py': {
    language: 'python',
    source: 'print(input().upper())\n',
    verdict: 'AC',
    score: 6,
    tests: ['AC', 'AC', 'AC'],
  },
  'ac-c': {
    language: 'c',
    source:
      '#include <ctype.h>\n#include <stdio.h>\nint main(void) {\n  int c;\n' +
      '  while ((c = getchar()) != EOF) putchar(toupper(c));\n  return 0;\n}\n',
    verdict: 'AC',
    score: 6,
    tests: ['AC', 'AC', 'AC'],
  },
  // Right on the visible test; prints the hidden inputs unchanged (a leak if they got out).
  partial: {
    language: 'python',
    source: "s = input()\nprint(s.upper() if s.startswith('visible') else s)\n",
    verdict: 'WA',
    score: 1,
    tests: ['AC', 'WA', 'WA'],
  },
  wa: {
    language: 'python',
    source: 'print("nope")\n',
    verdict: 'WA',
    score: 0,
    tests: ['WA', 'WA', 'WA'],
  },
  ce: { language: 'c', source: 'int main( { return 0; }\n', verdict: 'CE', score: 0, tests: [] },
  // Sleeps through the visible test only: TLE (the first failing test) with the hidden points.
  tle: {
    language: 'python',
    source:
      "import time\ns = input()\nif s.startswith('visible'):\n    time.sleep(30)\nprint(s.upper())\n",
    verdict: 'TLE',
    score: 5,
    tests: ['TLE', 'AC', 'AC'],
  },
  // Prints its input on stdout and stderr.
  echo: {
    language: 'python',
    source:
      'import sys\ndata = sys.stdin.read()\nprint(data, end="")\nprint(data, file=sys.stderr)\n',
    verdict: 'WA',
    score: 0,
    tests: ['WA', 'WA', 'WA'],
  },
  // Prints its input on stderr and fails with it as the message.
  'echo-crash': {
    language: 'python',
    source:
      'import sys\ndata = sys.stdin.read()\nsys.stderr.write(data)\nraise SystemExit("failed on " + data)\n',
    verdict: 'RE',
    score: 0,
    tests: ['RE', 'RE', 'RE'],
  },
} satisfies Record<string, Program>;
type Kind = keyof typeof PROGRAMS;
const KINDS = Object.keys(PROGRAMS) as Kind[];
/**
 * The first KINDS.length students submit a second program at the same moment as their first:
 * attempts 2, the better score kept, solved when either passed (atomic updates under
 * concurrency). Index i pairs with KINDS[i].
 */
const SECOND: Kind[] = ['wa', 'partial', 'tle', 'ac-py', 'ac-c', 'partial', 'ac-py', 'echo'];

interface Student {
  i: number;
  name: string;
  userId: string;
  token: string;
  socket: ClientSocket;
  /** Gateway node (0 or 1) holding the socket. */
  node: number;
  /** Everything the socket received (events and acks), and what REST answered the student. */
  received: unknown[];
  finished: Map<string, RunFinishedEvent>;
  tests: Map<string, RunTestEvent[]>;
}

interface Submission {
  student: Student;
  kind: Kind;
  runId: string;
}

/** A dashboard as one instructor's socket receives it. */
function board(s: ClientSocket, sessionId: string) {
  const updates: DashboardUpdate[] = [];
  s.on('dashboard:update', (u) => {
    if (u.sessionId === sessionId) updates.push(u);
  });
  return updates;
}

/** RFC 4180: fields, quoted ones with doubled quotes, CRLF rows. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '"' && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (c === '"') {
      quoted = !quoted;
    } else if (!quoted && c === ',') {
      row.push(field);
      field = '';
    } else if (!quoted && c === '\r' && text[i + 1] === '\n') {
      rows.push([...row, field]);
      row = [];
      field = '';
      i++;
    } else {
      field += c;
    }
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

/** Gateway node of each socket id in the session, from the session's presence entries. */
async function nodesOfConnections(sessionId: string): Promise<Map<string, string>> {
  const conns = await redis.hgetall(sessionKeys.conns(sessionId));
  // `<user id> <node id>`: a user id may hold spaces, a node id (a UUID) does not.
  return new Map(Object.entries(conns).map(([id, v]) => [id, v.slice(v.lastIndexOf(' ') + 1)]));
}

const socketsGauge = async (i: number) =>
  Number((await gatewayMetrics(stack.urls[i])).match(/^coderoom_gateway_sockets (\S+)$/m)?.[1]);

it(
  'grades 30 students submitting at once over two nodes: dashboards exact on both, verdicts, progress and CSV right, nothing hidden leaked',
  withLogs(
    () => stack,
    async () => {
      // Two instructors, one on each node (directly), both watching the dashboard.
      const teacherToken = await stack.token('Grace Hopper', 'instructor');
      const teacher = await stack.connect(teacherToken, { url: stack.urls[0] });
      const assistantToken = await stack.token('Alan Turing', 'instructor');
      const assistant = await stack.connect(assistantToken, { url: stack.urls[1] });
      const { problem } = await okEvent(teacher, 'problem:create', problemPayload);
      const { session } = await okEvent(teacher, 'session:create', {
        title: 'CS101, week 5',
        problemIds: [problem.problemId],
      });
      const sessionId = session.sessionId;
      await okEvent(teacher, 'session:instructors', { sessionId, add: ['dev:Alan Turing'] });
      expect((await okEvent(assistant, 'session:get', { sessionId })).session.role).toBe(
        'instructor',
      );
      const boards = [board(teacher, sessionId), board(assistant, sessionId)];
      const from = [
        (await okEvent(teacher, 'dashboard:watch', { sessionId })).seq,
        (await okEvent(assistant, 'dashboard:watch', { sessionId })).seq,
      ];

      // 30 students through the balancer: half long-polling first (then the upgrade, which
      // needs the sticky cookie), half WebSocket only; some names need CSV quoting.
      const students: Student[] = [];
      for (let batch = 0; batch < STUDENTS; batch += 10) {
        const joined = await Promise.all(
          Array.from({ length: Math.min(10, STUDENTS - batch) }, async (_, k) => {
            const i = batch + k;
            const name = i % 5 === 0 ? `Student ${i}, "the ${i}th"` : `student-${i}`;
            const token = await stack.token(name);
            const socket = await stack.connect(
              token,
              i % 2 === 0 ? { transports: ['polling', 'websocket'], withCredentials: true } : {},
            );
            const st: Student = {
              i,
              name,
              userId: `dev:${name}`,
              token,
              socket,
              node: -1,
              received: [],
              finished: new Map(),
              tests: new Map(),
            };
            socket.onAny((event: string, payload: unknown) => st.received.push({ event, payload }));
            socket.on('run:finished', (e) => st.finished.set(e.runId, e));
            socket.on('run:test', (e) => {
              const list = st.tests.get(e.runId) ?? [];
              st.tests.set(e.runId, [...list, e]);
            });
            st.received.push(
              await okEvent(socket, 'session:join', { joinCode: session.joinCode! }),
            );
            return st;
          }),
        );
        students.push(...joined);
      }

      // Which node each student landed on: the presence entry of its socket names the node.
      const nodeOf = await nodesOfConnections(sessionId);
      const nodes = [nodeOf.get(teacher.id!), nodeOf.get(assistant.id!)];
      expect(nodes[0]).toBeDefined();
      expect(nodes[1]).toBeDefined();
      expect(nodes[0]).not.toBe(nodes[1]);
      for (const st of students) st.node = nodes.indexOf(nodeOf.get(st.socket.id!));
      expect(students.filter((st) => st.node < 0).map((st) => st.i)).toEqual([]);
      const perNode = [0, 1].map((n) => students.filter((st) => st.node === n).length);
      // Round robin for new connections: both nodes hold a good share of the class.
      expect(Math.min(...perNode)).toBeGreaterThanOrEqual(5);
      // The nodes agree: each counts its students' sockets and its instructor's.
      await until(
        `the nodes to count ${perNode[0] + 1} and ${perNode[1] + 1} sockets`,
        async () =>
          (await socketsGauge(0)) === perNode[0] + 1 && (await socketsGauge(1)) === perNode[1] + 1,
      );

      // Everyone submits at once (the first eight twice).
      const planned = students.flatMap((student) =>
        [
          KINDS[student.i % KINDS.length],
          ...(student.i < SECOND.length ? [SECOND[student.i]] : []),
        ].map((kind) => ({ student, kind })),
      );
      const submissions: Submission[] = await Promise.all(
        planned.map(async ({ student, kind }) => {
          const p = PROGRAMS[kind];
          const ack = await callEvent(student.socket, 'run:start', {
            language: p.language,
            source: p.source,
            mode: 'submit',
            problemId: problem.problemId,
            sessionId,
          });
          student.received.push(ack);
          if (!ack.ok) throw new Error(`${kind} of ${student.name}: ${JSON.stringify(ack.error)}`);
          return { student, kind, runId: ack.runId };
        }),
      );
      const unfinished = () => submissions.filter((s) => !s.student.finished.has(s.runId));
      await until(
        `every submission to finish at its student (${submissions.length})`,
        () => unfinished().length === 0,
        240_000,
      );

      // Each verdict, score and per-test verdict is right, live (run:test) and in the end.
      for (const { student, kind, runId } of submissions) {
        const p: Program = PROGRAMS[kind];
        const f = student.finished.get(runId)!;
        expect([kind, f.verdict, f.score, f.maxScore]).toEqual([
          kind,
          p.verdict,
          p.score,
          MAX_SCORE,
        ]);
        expect([kind, (f.tests ?? []).map((t) => t.verdict)]).toEqual([kind, p.tests]);
        const live = [...(student.tests.get(runId) ?? [])].sort((a, b) => a.index - b.index);
        expect([kind, live.map((t) => [t.index, t.verdict])]).toEqual([
          kind,
          p.tests.map((v, index) => [index, v]),
        ]);
        for (const t of [...live, ...(f.tests ?? [])].filter((x) => x.hidden)) {
          expect([kind, t.index, 'stdin' in t, 'expected' in t, 'actual' in t]).toEqual([
            kind,
            t.index,
            false,
            false,
            false,
          ]);
        }
      }

      // What each student can read later about their runs: the replay, and the REST view.
      for (const { student, runId } of submissions) {
        student.received.push(await okEvent(student.socket, 'run:watch', { runId }));
        const res = await fetch(`${stack.url}/api/runs/${runId}`, {
          headers: { authorization: `Bearer ${student.token}` },
        });
        expect(res.status).toBe(200);
        student.received.push(await res.text());
      }

      // No hidden input, expected output or output on a hidden test reached a student. The
      // scan sees what it must: the echoing programs' output on the visible test came through.
      for (const st of students) {
        const all = JSON.stringify(st.received).toLowerCase();
        const at = all.indexOf(SECRET);
        expect([st.name, at < 0 ? '' : all.slice(Math.max(0, at - 200), at + 100)]).toEqual([
          st.name,
          '',
        ]);
      }
      const echoed = submissions.filter((s) => s.kind === 'echo' || s.kind === 'echo-crash');
      expect(echoed.length).toBeGreaterThan(0);
      for (const { student, runId } of echoed) {
        const stderr = student.received
          .map(
            (r) =>
              r as { event?: string; payload?: { runId?: string; stream?: string; data?: string } },
          )
          .filter((r) => r.event === 'run:output' && r.payload?.runId === runId)
          .filter((r) => r.payload?.stream === 'stderr')
          .map((r) => r.payload?.data)
          .join('');
        expect(stderr).toContain('visible alpha');
      }

      // The dashboards: every progress entry arrived; then the feed's head, and both streams.
      await until(
        'every progress update on both dashboards',
        () =>
          boards.every((b) => b.filter((u) => u.kind === 'progress').length === submissions.length),
        60_000,
      );
      const head = Number(await redis.get(sessionKeys.seq(sessionId)));
      await until('both dashboards at the head of the feed', () =>
        boards.every((b) => b.length > 0 && b[b.length - 1].seq >= head),
      );
      boards.forEach((b, n) => {
        // Exactly once, in order, without gaps, up to the head.
        expect(b.map((u) => u.seq)).toEqual(
          Array.from({ length: head - from[n] }, (_, k) => from[n] + 1 + k),
        );
      });
      // Both instructors saw the same updates (from the later of their watches on).
      const common = Math.max(...from);
      const [a, b] = boards.map((updates) => updates.filter((u) => u.seq > common));
      expect(JSON.stringify(b)).toBe(JSON.stringify(a));

      const updates = boards[0];
      for (const { kind, runId, student } of submissions) {
        const p: Program = PROGRAMS[kind];
        const ends = updates.filter(
          (u) => u.kind === 'run' && u.run.runId === runId && u.run.status === 'finished',
        );
        expect(
          ends.map((u) => u.kind === 'run' && [u.run.userId, u.run.verdict, u.run.score]),
        ).toEqual([[student.userId, p.verdict, p.score]]);
        const tests = updates
          .filter((u) => u.kind === 'test' && u.test.runId === runId)
          .map((u) => (u.kind === 'test' ? [u.test.index, u.test.verdict] : null));
        expect([kind, tests.sort()]).toEqual([kind, p.tests.map((v, index) => [index, v])]);
      }

      // Progress: attempts, best score and solved, per student: as the last progress update
      // said, as a new watch's snapshot says, and as the results CSV says.
      const expected = new Map(
        students.map((st) => {
          const mine = submissions.filter((s) => s.student === st).map((s) => PROGRAMS[s.kind]);
          return [
            st.userId,
            {
              attempts: mine.length,
              bestScore: Math.max(...mine.map((p) => p.score)),
              solved: mine.some((p) => p.verdict === 'AC'),
            },
          ];
        }),
      );
      const shape = (p: { attempts: number; bestScore: number; solvedAt?: string | null }) => ({
        attempts: p.attempts,
        bestScore: p.bestScore,
        solved: typeof p.solvedAt === 'string' && p.solvedAt !== '',
      });
      const lastProgress = new Map<string, ReturnType<typeof shape>>();
      for (const u of updates) {
        if (u.kind === 'progress' && u.progress.problemId === problem.problemId) {
          lastProgress.set(u.progress.userId, shape(u.progress));
        }
      }
      expect(lastProgress).toEqual(expected);
      const { snapshot } = await okEvent(teacher, 'dashboard:watch', { sessionId });
      expect(
        new Map(
          snapshot.progress
            .filter((p) => p.problemId === problem.problemId)
            .map((p) => [p.userId, shape(p)]),
        ),
      ).toEqual(expected);
      expect(snapshot.progress.every((p) => p.maxScore === MAX_SCORE)).toBe(true);

      const res = await fetch(`${stack.url}/api/sessions/${sessionId}/results.csv`, {
        headers: { authorization: `Bearer ${teacherToken}` },
      });
      expect(res.status).toBe(200);
      const [header, ...rows] = parseCsv(await res.text());
      expect(header.join(',')).toBe(
        'user_id,name,problem_id,problem,best_score,max_score,attempts,solved_at',
      );
      expect(rows.length).toBe(STUDENTS);
      const fromCsv = new Map(
        rows.map(([userId, name, problemId, title, best, max, attempts, solvedAt]) => {
          expect([name, problemId, title, max]).toEqual([
            userId.slice('dev:'.length),
            problem.problemId,
            'Shout',
            String(MAX_SCORE),
          ]);
          expect(solvedAt).toMatch(/^$|^\d{4}-\d\d-\d\dT/);
          return [
            userId,
            { attempts: Number(attempts), bestScore: Number(best), solved: solvedAt !== '' },
          ];
        }),
      );
      expect(fromCsv).toEqual(expected);
    },
  ),
  300_000,
);

it(
  'pushes session:locked to every member on both nodes, after each node forgot its cached copy',
  withLogs(
    () => stack,
    async () => {
      const teacher = await stack.connect(await stack.token('Lock Teacher', 'instructor'), {
        url: stack.urls[0],
      });
      const { session } = await okEvent(teacher, 'session:create', { title: 'locks' });
      const sessionId = session.sessionId;
      const join = async (name: string, node: number) => {
        const s = await stack.connect(await stack.token(name), { url: stack.urls[node] });
        await okEvent(s, 'session:join', { joinCode: session.joinCode! });
        return s;
      };
      const near = await join('lock student near', 0);
      const far = await join('lock student far', 1);
      const members = [teacher, near, far];
      const pushes = members.map((s) => {
        const got: SessionLockedEvent[] = [];
        s.on('session:locked', (e) => got.push(e));
        return got;
      });
      // Each edit from a document of its own: none depends on a refused one.
      const edit = (text: string) => {
        const doc = new Y.Doc();
        doc.getText('main.py').insert(0, text);
        return Buffer.from(Y.encodeStateAsUpdate(doc)).toString('base64');
      };
      // Node 1 reads (and caches) the session as editable.
      await okEvent(far, 'doc:update', { sessionId, update: edit('a') });

      await okEvent(teacher, 'session:lock', { sessionId, readOnly: true });
      const by = { userId: 'dev:Lock Teacher', name: 'Lock Teacher' };
      await until('the lock pushed to every member', () => pushes.every((p) => p.length === 1));
      for (const p of pushes) expect(p).toEqual([{ sessionId, readOnly: true, by }]);
      // Node 1 judges by the new setting: no stale cached copy.
      const refused = await callEvent(far, 'doc:update', { sessionId, update: edit('b') });
      expect(refused.ok ? 'ok' : refused.error.code).toBe('FORBIDDEN');
      expect((await okEvent(far, 'session:get', { sessionId })).session.readOnly).toBe(true);

      // An edit sent the moment the unlock arrives is accepted.
      const afterUnlock = new Promise<string>((resolve) => {
        far.on('session:locked', (e) => {
          if (e.readOnly) return;
          void callEvent(far, 'doc:update', { sessionId, update: edit('c') }).then((ack) =>
            resolve(ack.ok ? 'ok' : ack.error.code),
          );
        });
      });
      await okEvent(teacher, 'session:lock', { sessionId, readOnly: false });
      expect(await afterUnlock).toBe('ok');
      await until('the unlock pushed to every member', () => pushes.every((p) => p.length === 2));
      for (const p of pushes) expect(p[1]).toEqual({ sessionId, readOnly: false, by });
    },
  ),
  60_000,
);
