import { z } from 'zod';
import {
  ackErrSchema,
  ackSchema,
  apiErrorSchema,
  connectErrorSchema,
  errorCodeSchema,
} from './acks.js';
import { ROLES } from './auth.js';
import { ERROR_CODES, type AckFn, type ApiError } from './errors.js';
import {
  CLIENT_EVENTS,
  SERVER_EVENTS,
  type ClientToServerEvents,
  type ServerToClientEvents,
} from './events.js';
import { PAYLOAD_LIMITS } from './limits.js';
import {
  emptyResultSchema,
  emptySchema,
  languageInfoSchema,
  languagesListResultSchema,
  liveRunStatusSchema,
  outputChunkSchema,
  outputStreamSchema,
  runFinishedEventSchema,
  runIdSchema,
  runInputSchema,
  runModeSchema,
  runResultSchema,
  runStartResultSchema,
  runStartSchema,
  runStatusEventSchema,
  runStatusSchema,
  runSummarySchema,
  runTestEventSchema,
  runWatchResultSchema,
  runWatchSchema,
  sourceFileSchema,
  verdictSchema,
} from './runs.js';
import {
  CLASSROOM_CLIENT_DOCS,
  CLASSROOM_SCHEMA_NAMES,
  CLASSROOM_SERVER_DOCS,
} from './asyncapi-classroom.js';
import { INSTRUCTOR_CLIENT_DOCS, INSTRUCTOR_SCHEMA_NAMES } from './instructor.js';

// The AsyncAPI 3.0 document of the socket.io API, generated from the contracts: event names from
// CLIENT_EVENTS/SERVER_EVENTS, payloads from the zod schemas, limits and error codes from their
// constants. The per-event tables below are typed by the event maps, so an event added to the
// contracts without its documentation does not compile. No Node-only imports: browsers bundle
// the contracts (even though they do not load this file).

export type ClientEvent = keyof ClientToServerEvents;
export type ServerEvent = keyof ServerToClientEvents;
type PayloadOf<E extends ClientEvent> = Parameters<ClientToServerEvents[E]>[0];
type ResultOf<E extends ClientEvent> =
  Parameters<ClientToServerEvents[E]>[1] extends AckFn<infer T> ? T : never;
type EventOf<E extends ServerEvent> = Parameters<ServerToClientEvents[E]>[0];

/** Fails to compile when an event of the map is missing from the list the server iterates. */
type Missing<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : Exclude<All, Listed>;
const clientEventsComplete: Missing<ClientEvent, (typeof CLIENT_EVENTS)[number]> = true;
const serverEventsComplete: Missing<ServerEvent, (typeof SERVER_EVENTS)[number]> = true;
/** `true` when A and B are the same type (mere assignability would let optional fields slip). */
type Same<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** zod's `{}` object is `Record<string, never>`; the event maps say `object`. */
type Loose<T> = T extends Record<string, never> ? object : T;

export interface Example<T> {
  name: string;
  summary: string;
  payload: T;
}

export interface ClientEventDoc<E extends ClientEvent> {
  summary: string;
  /** Markdown. */
  description: string;
  /** What the client sends; its input type must fit the event's payload type. */
  payload: z.ZodType<unknown, PayloadOf<E> | undefined>;
  /** The ack's result (the part after `ok: true`); its output must fit the ack's type. */
  result: z.ZodObject & z.ZodType<ResultOf<E>>;
  examples: Example<PayloadOf<E>>[];
  ackExample: ResultOf<E>;
  refusedExample: ApiError;
}

export interface ServerEventDoc<E extends ServerEvent> {
  summary: string;
  description: string;
  payload: z.ZodType<EventOf<E>>;
  examples: Example<EventOf<E>>[];
}

export const RUN_ID = '6f1c1c9e-5a43-4b7e-9a51-0f3f8e2b7d10';
export const AT = '2025-01-01T12:00:00.000Z';

const invalidRunId: ApiError = {
  code: 'INVALID',
  message: 'invalid payload: runId',
  details: [{ path: 'runId', message: 'Invalid input: expected string, received undefined' }],
};

const CLIENT_EVENT_DOCS = {
  'run:start': {
    summary: 'Start a run.',
    description:
      'Starts a run of a program: `mode: "run"` executes it once with the given stdin, ' +
      '`mode: "submit"` grades it against the test cases of a problem. The sender owns the run ' +
      'and is subscribed to it from now on: `run:status`, `run:output`, `run:test` (submit mode) ' +
      'and exactly one `run:finished` follow. Nobody else sees the run unless allowed (a ' +
      "session's instructors). Refusals: `INVALID`, `TOO_LARGE` (source or stdin over the " +
      'limits), `UNSUPPORTED_LANGUAGE`, `RATE_LIMITED` (with `retryAfterMs` and `details.limit`: ' +
      '`concurrent`, `minute` or `day`; `events` for the per-socket event rate) and `BUSY` ' +
      '(with `retryAfterMs`).',
    payload: runStartSchema,
    result: runStartResultSchema,
    examples: [
      {
        name: 'source',
        summary: 'A one-file Python program',
        payload: { language: 'python', source: 'print(input())\n', stdin: 'hello\n' },
      },
      {
        name: 'files',
        summary: 'A two-file C program',
        payload: {
          language: 'c',
          files: [
            { path: 'main.c', content: '#include "util.h"\nint main(void) { return twice(0); }\n' },
            { path: 'util.h', content: 'static int twice(int n) { return 2 * n; }\n' },
          ],
        },
      },
      {
        name: 'typecheck',
        summary:
          'TypeScript type-checked before it runs (its default version only transpiles: type ' +
          'errors are not CE there)',
        payload: {
          language: 'typescript',
          version: '7.0.2+typecheck',
          source: 'const n: number = 6 * 7;\nconsole.log(n);\n',
        },
      },
    ],
    ackExample: { runId: RUN_ID, status: 'queued', position: 1 },
    refusedExample: { code: 'UNSUPPORTED_LANGUAGE', message: 'unsupported language "klingon"' },
  },
  'run:input': {
    summary: 'Feed stdin of an interactive run.',
    description:
      'Appends `data` to the stdin of a run started with `interactive: true`; `eof: true` ' +
      'closes it. Only the owner of the run may send input. Input sent before the program has ' +
      'started waits and is delivered in order; the wall-clock limit still applies to a program ' +
      'waiting for input. Refusals: `NOT_FOUND`, `FORBIDDEN` (not the owner), `CONFLICT` (the run ' +
      'is not interactive, has finished, or its stdin was closed with `eof`), `TOO_LARGE` (more ' +
      'than 1 MiB of input for one run in total), `RATE_LIMITED`.',
    payload: runInputSchema,
    result: emptyResultSchema,
    examples: [
      {
        name: 'line',
        summary: 'One line, then end of input',
        payload: { runId: RUN_ID, data: '42\n', eof: true },
      },
    ],
    ackExample: {},
    refusedExample: { code: 'CONFLICT', message: 'the run has already finished' },
  },
  'run:cancel': {
    summary: 'Cancel a run.',
    description:
      'Cancels a queued or running run of the sender. Its watchers then get `run:finished` with ' +
      'the verdict `CANCELLED` (unless the run finished first).',
    payload: runIdSchema,
    result: emptyResultSchema,
    examples: [{ name: 'cancel', summary: 'Cancel a run', payload: { runId: RUN_ID } }],
    ackExample: {},
    refusedExample: { code: 'CONFLICT', message: 'the run has already finished' },
  },
  'run:watch': {
    summary: 'Watch a run, or catch up after a gap or a reconnect.',
    description:
      'Subscribes the socket to a run it may see and answers with the run as it is now and ' +
      'the output it missed. `seq` starts at 1 for each run and rises by exactly 1 for every ' +
      '`run:output` of that run, across all streams. A client that sees a gap, or reconnects, ' +
      'sends `run:watch` with `afterSeq` = the last seq it holds: `backlog` holds every chunk ' +
      'with a higher seq, in order, and the live `run:output` events that follow the ack ' +
      'continue from there. No chunk is delivered twice after a watch ack. If the run has ' +
      'already finished, `run.result` holds its result and no further events follow.',
    payload: runWatchSchema,
    result: runWatchResultSchema,
    examples: [
      {
        name: 'resume',
        summary: 'Resume after chunk 2',
        payload: { runId: RUN_ID, afterSeq: 2 },
      },
    ],
    ackExample: {
      run: {
        runId: RUN_ID,
        ownerId: 'u-42',
        language: 'python',
        mode: 'run',
        status: 'running',
        createdAt: AT,
        startedAt: AT,
        finishedAt: null,
        lastSeq: 3,
        result: null,
      },
      backlog: [{ runId: RUN_ID, seq: 3, stream: 'stdout', data: 'line 3\n' }],
    },
    refusedExample: { code: 'NOT_FOUND', message: `run ${RUN_ID} not found` },
  },
  'run:unwatch': {
    summary: 'Stop watching a run.',
    description: 'Unsubscribes the socket from a run it watches.',
    payload: runIdSchema,
    result: emptyResultSchema,
    examples: [{ name: 'unwatch', summary: 'Stop watching', payload: { runId: RUN_ID } }],
    ackExample: {},
    refusedExample: invalidRunId,
  },
  'languages:list': {
    summary: 'List the languages.',
    description:
      'Answers the languages the service can run (also `GET /api/languages`): those whose ' +
      'sandbox image some running worker has. A language (or one of its `versions`) whose image ' +
      'is not built is left out; its `run:start` is refused with `UNSUPPORTED_LANGUAGE`.',
    payload: emptySchema,
    result: languagesListResultSchema,
    examples: [{ name: 'list', summary: 'The payload is an empty object', payload: {} }],
    ackExample: {
      languages: [
        {
          id: 'python',
          name: 'Python',
          version: '3.11',
          fileName: 'main.py',
          limits: { cpuMs: 4000, compileCpuMs: null },
        },
      ],
    },
    refusedExample: {
      code: 'INVALID',
      message: 'invalid payload: (payload)',
      details: [{ path: '', message: 'Invalid input: expected object, received string' }],
    },
  },
  ...CLASSROOM_CLIENT_DOCS,
  ...INSTRUCTOR_CLIENT_DOCS,
} satisfies { [E in ClientEvent]: ClientEventDoc<E> };

/** Each event documented with exactly its payload and result types (not merely compatible ones). */
const clientSchemasExact: Record<ClientEvent, true> = {} as {
  [E in ClientEvent]: Same<
    Loose<NonNullable<z.input<(typeof CLIENT_EVENT_DOCS)[E]['payload']>>>,
    PayloadOf<E>
  > extends true
    ? Same<Loose<z.output<(typeof CLIENT_EVENT_DOCS)[E]['result']>>, ResultOf<E>>
    : false;
};

const SERVER_EVENT_DOCS = {
  'run:status': {
    summary: 'A run changed status or moved in the queue.',
    description:
      'Sent to the watchers of a run when it is queued (with its place), moves up in the queue, ' +
      'starts compiling and starts running. The end of a run is `run:finished`. ' +
      '`position` is the place in the order in which workers will take the waiting runs. That ' +
      "order is fair share: a run's priority is the number of runs its user (or its session, " +
      'if larger) has queued or running, lower first, in arrival order among equals; so a run ' +
      'admitted later may be placed ahead, and a position may also grow.',
    payload: runStatusEventSchema,
    examples: [
      {
        name: 'queued',
        summary: 'Second in the queue',
        payload: { runId: RUN_ID, status: 'queued', position: 2, at: AT },
      },
      {
        name: 'running',
        summary: 'The program runs',
        payload: { runId: RUN_ID, status: 'running', at: AT },
      },
    ],
  },
  'run:output': {
    summary: 'A chunk of output.',
    description:
      'Output of a run, delivered as it is produced (a program that prints a line every 100 ms ' +
      'is seen line by line, not at exit), coalesced into chunks of at most a few KiB / tens of ' +
      'ms. `seq` starts at 1 and rises by exactly 1 for every chunk of the run, across streams; ' +
      'on a gap or after a reconnect, catch up with `run:watch` and `afterSeq`. Output beyond ' +
      "the run's output limit is cut (`run:finished.truncated`, verdict `OLE`).",
    payload: outputChunkSchema,
    examples: [
      {
        name: 'stdout',
        summary: 'A line on stdout',
        payload: { runId: RUN_ID, seq: 1, stream: 'stdout', data: 'hello\n' },
      },
      {
        name: 'compile',
        summary: 'A compiler message',
        payload: {
          runId: RUN_ID,
          seq: 1,
          stream: 'compile',
          data: "main.c:1:1: error: unknown type name 'nit'\n",
        },
      },
    ],
  },
  'run:test': {
    summary: 'The verdict of one test case.',
    description:
      'Submit mode: one event per test case, as it is judged. Students never see the data of ' +
      'hidden test cases.',
    payload: runTestEventSchema,
    examples: [
      {
        name: 'passed',
        summary: 'Test case 0 passed',
        payload: { runId: RUN_ID, index: 0, verdict: 'AC', timeMs: 12, hidden: false },
      },
    ],
  },
  'run:finished': {
    summary: 'A run ended.',
    description:
      'Sent exactly once per run, with its result; also when the run is cancelled or fails ' +
      'for a system reason (verdict `SE`).',
    payload: runFinishedEventSchema,
    examples: [
      {
        name: 'ok',
        summary: 'The program exited with 0',
        payload: {
          runId: RUN_ID,
          verdict: 'OK',
          exitCode: 0,
          signal: null,
          timeMs: 48,
          memoryKb: null,
          truncated: false,
        },
      },
      {
        name: 'submission',
        summary: 'A graded submission',
        payload: {
          runId: RUN_ID,
          verdict: 'WA',
          exitCode: 0,
          signal: null,
          timeMs: 130,
          memoryKb: 9216,
          truncated: false,
          tests: [
            { runId: RUN_ID, index: 0, verdict: 'AC', timeMs: 12, hidden: false },
            { runId: RUN_ID, index: 1, verdict: 'WA', timeMs: 15, hidden: true },
          ],
          score: 50,
        },
      },
    ],
  },
  ...CLASSROOM_SERVER_DOCS,
} satisfies { [E in ServerEvent]: ServerEventDoc<E> };

const serverSchemasExact: Record<ServerEvent, true> = {} as {
  [E in ServerEvent]: Same<z.output<(typeof SERVER_EVENT_DOCS)[E]['payload']>, EventOf<E>>;
};

// ---------------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

/** `run:start` -> `runStart`: AsyncAPI ids (channels, operations, messages) are `[A-Za-z0-9_-]+`. */
export function asyncApiId(event: string): string {
  return event.replace(/[^A-Za-z0-9]+([A-Za-z0-9])/g, (_, c: string) => c.toUpperCase());
}

const ref = ($ref: string): Json => ({ $ref });
const schemaRef = (name: string): Json => ref(`#/components/schemas/${name}`);

const CONNECT_ERROR = 'connect_error';

/**
 * Schemas with an entry of their own in `components.schemas` (under this name), referenced
 * wherever they are used; other schemas are written out where they are used.
 */
const NAMED_SCHEMAS = new Map<z.ZodType, string>([
  [runStartSchema, 'RunStartPayload'],
  [sourceFileSchema, 'SourceFile'],
  [runInputSchema, 'RunInputPayload'],
  [runIdSchema, 'RunIdPayload'],
  [runWatchSchema, 'RunWatchPayload'],
  [emptySchema, 'EmptyPayload'],
  [runModeSchema, 'RunMode'],
  [runStatusSchema, 'RunStatus'],
  [liveRunStatusSchema, 'LiveRunStatus'],
  [verdictSchema, 'Verdict'],
  [outputStreamSchema, 'OutputStream'],
  [outputChunkSchema, 'OutputChunk'],
  [runStatusEventSchema, 'RunStatusEvent'],
  [runTestEventSchema, 'RunTestEvent'],
  [runResultSchema, 'RunResult'],
  [runFinishedEventSchema, 'RunFinishedEvent'],
  [runSummarySchema, 'RunSummary'],
  [languageInfoSchema, 'LanguageInfo'],
  [runStartResultSchema, 'RunStartResult'],
  [runWatchResultSchema, 'RunWatchResult'],
  [languagesListResultSchema, 'LanguagesListResult'],
  [emptyResultSchema, 'EmptyResult'],
  [errorCodeSchema, 'ErrorCode'],
  [apiErrorSchema, 'ApiError'],
  [ackErrSchema, 'AckError'],
  [connectErrorSchema, 'ConnectError'],
  ...CLASSROOM_SCHEMA_NAMES,
  ...INSTRUCTOR_SCHEMA_NAMES,
]);

/** The acknowledgement schema of each result schema, named after it (`RunStartAck`). */
const ACK_SCHEMAS = new Map<z.ZodObject, z.ZodType>();
function ackOf(result: z.ZodObject): z.ZodType {
  let ack = ACK_SCHEMAS.get(result);
  if (!ack) {
    ack = ackSchema(result).describe(
      '`{ ok: true, ...result }` when the request was accepted, `{ ok: false, error }` when not.',
    );
    ACK_SCHEMAS.set(result, ack);
    NAMED_SCHEMAS.set(ack, nameOf(result).replace(/Result$/, 'Ack'));
  }
  return ack;
}

/** The name under which a schema is in `components.schemas`. */
function nameOf(schema: z.ZodType): string {
  const name = NAMED_SCHEMAS.get(schema);
  if (name === undefined) throw new Error('asyncapi: a documented schema has no component name');
  return name;
}

/**
 * JSON Schema (draft-07, which AsyncAPI 3 schemas extend) of every named schema; references
 * between them point into `components.schemas`.
 */
function componentSchemas(input: z.ZodType[], output: z.ZodType[]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [io, schemas] of [
    ['input', input],
    ['output', output],
  ] as const) {
    const registry = z.registry<{ id: string }>();
    // Every named schema, so that nested ones become references rather than copies.
    for (const [schema, id] of NAMED_SCHEMAS) registry.add(schema, { id });
    const all = z.toJSONSchema(registry, {
      target: 'draft-07',
      io,
      uri: (id) => `#/components/schemas/${id}`,
    }).schemas;
    // Keep what this direction uses, directly or through references.
    const wanted = new Set(schemas.map(nameOf));
    const queue = [...wanted];
    for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
      const schema = all[name];
      if (!schema) throw new Error(`asyncapi: no JSON Schema for ${name}`);
      for (const used of references(schema)) {
        if (!wanted.has(used)) {
          wanted.add(used);
          queue.push(used);
        }
      }
    }
    for (const name of wanted) {
      const json = clean(all[name], io === 'output') as Json;
      const previous = out[name];
      if (previous !== undefined && JSON.stringify(previous) !== JSON.stringify(json)) {
        throw new Error(`asyncapi: ${name} differs between what clients send and receive`);
      }
      out[name] = json;
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function references(node: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => references(n, found));
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') found.add(v.replace('#/components/schemas/', ''));
      else references(v, found);
    }
  }
  return found;
}

/**
 * Drops what zod emits but the document should not say: `$schema`/`$id` on each schema, the
 * ±MAX_SAFE_INTEGER bounds of every integer, one-element `allOf` wrappers, the regex next to
 * `format: date-time`, and, on what the server sends,
 * `additionalProperties: false` (clients must ignore properties added in later versions).
 */
function clean(node: unknown, serverSent: boolean, inProperties = false): unknown {
  if (Array.isArray(node)) return node.map((n) => clean(n, serverSent));
  if (node === null || typeof node !== 'object') return node;
  const keys = Object.keys(node);
  const allOf = (node as Json).allOf;
  if (!inProperties && keys.length === 1 && Array.isArray(allOf) && allOf.length === 1) {
    return clean(allOf[0], serverSent); // `{ allOf: [x] }` is x
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (!inProperties) {
      if (k === '$schema' || k === '$id') continue;
      if (k === 'minimum' && v === Number.MIN_SAFE_INTEGER) continue;
      if (k === 'maximum' && v === Number.MAX_SAFE_INTEGER) continue;
      if (k === 'additionalProperties' && v === false && serverSent) continue;
      // zod writes out its date-time regex next to `format: date-time`; the format says it.
      if (k === 'pattern' && (node as Json).format === 'date-time') continue;
    }
    out[k] = clean(v, serverSent, !inProperties && k === 'properties');
  }
  return out;
}

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

const LIMIT_TEXT: Record<keyof typeof PAYLOAD_LIMITS, string> = {
  sourceBytes: 'Bytes (UTF-8) of `source`, or of all `files[].content` together (`TOO_LARGE`)',
  stdinBytes: 'Bytes (UTF-8) of `stdin` (`TOO_LARGE`), characters of one `run:input` `data`',
  inputBytesPerRun: 'Bytes (UTF-8) of all `run:input` `data` of one run together (`TOO_LARGE`)',
  files: 'Entries in `files`',
  pathLength: 'Characters of one file path',
  pathDepth: 'Segments (directory levels) of one file path',
  messageBytes: 'Bytes of one socket.io message; larger ones close the connection',
};

const ERROR_TEXT: Record<(typeof ERROR_CODES)[number], string> = {
  UNAUTHORIZED: 'No valid token',
  FORBIDDEN: "The user may not do this (e.g. watch somebody else's run)",
  INVALID: 'The payload fails validation; `details` lists `{ path, message }` per field',
  NOT_FOUND: 'No such run (or other object)',
  TOO_LARGE: 'Source or stdin over the payload limits',
  UNSUPPORTED_LANGUAGE:
    'No such language or version, or its sandbox image is not built on any running worker ' +
    '(`details.reason: "image-not-built"`); `details.supported` lists the available ones ' +
    '(see `languages:list`)',
  RATE_LIMITED: 'Too many requests; retry after `retryAfterMs`',
  BUSY:
    'The run queue is full (backpressure), or a store the service needs is briefly ' +
    'unreachable (`details.reason: "unavailable"`); retry after `retryAfterMs`',
  CONFLICT: 'The request conflicts with the state (e.g. the run has already finished)',
  INTERNAL: 'A server error',
};

function description(): string {
  return [
    'The realtime API of Coderoom: run programs in sandboxes and watch their output stream ' +
      'live. This document is generated from the contracts package `@coderoom/contracts` and ' +
      "describes the API from a client's point of view: a `send` operation is an event the " +
      'client emits (with an acknowledgement callback, described as its `reply`), a `receive` ' +
      'operation is an event the client listens to. Changing an event name or a payload shape ' +
      'is a breaking change: the API adds, it does not rename. Clients must ignore properties ' +
      'they do not know.',
    '## Transport',
    '- Socket.IO v4 protocol (Engine.IO v4), default namespace `/`, path `/socket.io`. ' +
      'Clients may use `transports: ["websocket"]`; long-polling also works (behind sticky ' +
      'sessions).',
    '- Every channel address is a Socket.IO event name; the message is the first argument of ' +
      'the event, and the reply is the argument of its acknowledgement callback, e.g. ' +
      "`const ack = await socket.emitWithAck('run:start', payload)`.",
    '## Authentication',
    '- The client authenticates in the handshake: `io(url, { auth: { token } })`, where ' +
      '`token` is a JWT (HS256, or RS256 from a JWKS when so configured) with the claims ' +
      `\`sub\` (user id), \`name\`, \`role\` (${ROLES.map((r) => `\`${r}\``).join(' | ')}) and \`exp\`.`,
    '- A missing, malformed, expired or wrongly signed token is refused at connect: the ' +
      `client gets \`${CONNECT_ERROR}\` whose \`message\` is \`unauthorized\` and whose ` +
      '`data.code` is `UNAUTHORIZED`. Nothing else is accepted before authentication. (A node ' +
      'that is shutting down, or still starting, refuses connections with `data.code` `BUSY` ' +
      'and `data.retryAfterMs`.)',
    '- In local/dev mode a token can be obtained from `POST /api/auth/dev-token` with ' +
      '`{ name, role }`; this route does not exist when dev tokens are disabled (the default ' +
      'in production).',
    '## Acknowledgements and errors',
    'Every client-to-server event takes an acknowledgement callback (an event sent without one ' +
      'is ignored; an unknown event is answered with `INVALID`). The acknowledgement is always ' +
      'one of `{ ok: true, ...result }` and `{ ok: false, error: { code, message, ' +
      'retryAfterMs?, details? } }`. A bad payload never disconnects the client.',
    table(
      ['code', 'meaning'],
      ERROR_CODES.map((c) => [`\`${c}\``, ERROR_TEXT[c]]),
    ),
    '## Payload limits',
    'Also in machine-readable form as `x-payload-limits` of this `info` object.',
    table(
      ['limit', 'value', 'what'],
      Object.entries(PAYLOAD_LIMITS).map(([k, v]) => [
        `\`${k}\``,
        v,
        LIMIT_TEXT[k as keyof typeof PAYLOAD_LIMITS],
      ]),
    ),
    '## Runs',
    'A run is one execution of a program (`run:start`). Its owner, and whoever watches it ' +
      '(`run:watch`), receive `run:status`, `run:output`, `run:test` (submit mode) and exactly ' +
      'one `run:finished`. `seq` starts at 1 for each run and rises by exactly 1 for every ' +
      '`run:output` of that run, across all streams; a client that sees a gap, or reconnects, ' +
      'calls `run:watch` with `afterSeq` = the last seq it holds and receives what it missed ' +
      "in the ack's `backlog`; no chunk is delivered twice after a watch ack.",
  ]
    .join('\n\n')
    .replace(/\n\n(?=- )/g, '\n'); // tight lists
}

export interface AsyncApiOptions {
  /**
   * Where clients connect, e.g. `https://coderoom.example.com` (`http`/`https` become
   * `ws`/`wss`). Without it the server's host is a variable defaulting to `localhost:3000`.
   */
  serverUrl?: string;
  /** `info.version`: the version of the API, default `1.0.0`. */
  version?: string;
}

function server(serverUrl: string | undefined): Json {
  const common: Json = {
    title: 'Coderoom gateway',
    description:
      'A Coderoom gateway node. Socket.IO v4, namespace `/`, path `/socket.io`; ' +
      'authenticate with `auth: { token }` in the handshake.',
    security: [ref('#/components/securitySchemes/jwt')],
    'x-socketio': { version: 4, namespace: '/', path: '/socket.io' },
  };
  if (serverUrl === undefined) {
    return {
      host: '{host}',
      protocol: 'ws',
      pathname: '/socket.io',
      variables: {
        host: {
          default: 'localhost:3000',
          description: 'Host and port of the deployment (`wss` where it is served over TLS).',
        },
      },
      ...common,
    };
  }
  const url = new URL(serverUrl);
  const secure = url.protocol === 'https:' || url.protocol === 'wss:';
  return {
    host: url.host,
    protocol: secure ? 'wss' : 'ws',
    pathname: `${url.pathname.replace(/\/+$/, '')}/socket.io`,
    ...common,
  };
}

/** The AsyncAPI 3.0.0 document of the socket.io API, generated from the contracts. */
export function buildAsyncApiDocument(opts: AsyncApiOptions = {}): object {
  void [clientEventsComplete, serverEventsComplete, clientSchemasExact, serverSchemasExact];
  const channels: Json = {};
  const operations: Json = {};
  const messages: Json = {};
  const input: z.ZodType[] = [];
  const output: z.ZodType[] = [ackErrSchema, connectErrorSchema];
  const tags = (event: string) =>
    event.startsWith('run:') || event === 'languages:list'
      ? [{ name: 'runs', description: 'Running programs and watching their output.' }]
      : [
          {
            name: 'classroom',
            description: 'Sessions, problems, the shared document, the dashboard.',
          },
        ];
  const clientEvents = new Set<string>(CLIENT_EVENTS);

  for (const event of CLIENT_EVENTS) {
    const doc = CLIENT_EVENT_DOCS[event] as ClientEventDoc<ClientEvent>;
    const id = asyncApiId(event);
    const ackId = `${id}Ack`;
    const ack = ackOf(doc.result);
    input.push(doc.payload);
    output.push(ack);
    messages[id] = {
      name: event,
      title: event,
      summary: doc.summary,
      description: doc.description,
      payload: schemaRef(nameOf(doc.payload)),
      examples: doc.examples,
    };
    messages[ackId] = {
      name: `${event} ack`,
      title: `Acknowledgement of ${event}`,
      summary: `The answer to \`${event}\`: \`{ ok: true, ...result }\` or \`{ ok: false, error }\`.`,
      description:
        `Passed to the acknowledgement callback of \`${event}\` (a Socket.IO ACK packet, not ` +
        'an event).',
      payload: schemaRef(nameOf(ack)),
      examples: [
        { name: 'ok', summary: 'Accepted', payload: { ok: true, ...doc.ackExample } },
        { name: 'refused', summary: 'Refused', payload: { ok: false, error: doc.refusedExample } },
      ],
    };
    channels[id] = {
      address: event,
      title: event,
      summary: doc.summary,
      messages: {
        [id]: ref(`#/components/messages/${id}`),
        [ackId]: ref(`#/components/messages/${ackId}`),
      },
    };
    operations[id] = {
      action: 'send',
      channel: ref(`#/channels/${id}`),
      title: event,
      summary: doc.summary,
      description: doc.description,
      messages: [ref(`#/channels/${id}/messages/${id}`)],
      reply: {
        channel: ref(`#/channels/${id}`),
        messages: [ref(`#/channels/${id}/messages/${ackId}`)],
      },
      tags: tags(event),
    };
  }

  for (const event of SERVER_EVENTS) {
    const doc = SERVER_EVENT_DOCS[event] as ServerEventDoc<ServerEvent>;
    // An event name both sides use (`doc:update`) is two channels: `docUpdate`, `docUpdateEvent`.
    const id = asyncApiId(event) + (clientEvents.has(event) ? 'Event' : '');
    output.push(doc.payload);
    messages[id] = {
      name: event,
      title: event,
      summary: doc.summary,
      description: doc.description,
      payload: schemaRef(nameOf(doc.payload)),
      examples: doc.examples,
    };
    channels[id] = {
      address: event,
      title: event,
      summary: doc.summary,
      messages: { [id]: ref(`#/components/messages/${id}`) },
    };
    operations[id] = {
      action: 'receive',
      channel: ref(`#/channels/${id}`),
      title: event,
      summary: doc.summary,
      description: doc.description,
      messages: [ref(`#/channels/${id}/messages/${id}`)],
      tags: tags(event),
    };
  }

  const connectErrorId = asyncApiId(CONNECT_ERROR);
  messages[connectErrorId] = {
    name: CONNECT_ERROR,
    title: CONNECT_ERROR,
    summary: 'The handshake was refused.',
    description:
      "Socket.IO's reserved `connect_error` (a CONNECT_ERROR packet): the client library " +
      'passes an `Error` with this `message` and `data` to its `connect_error` listeners.',
    payload: schemaRef(nameOf(connectErrorSchema)),
    examples: [
      {
        name: 'unauthorized',
        summary: 'No valid token',
        payload: { message: 'unauthorized', data: { code: 'UNAUTHORIZED' } },
      },
      {
        name: 'busy',
        summary: 'The node is shutting down',
        payload: { message: 'shutting down', data: { code: 'BUSY', retryAfterMs: 1000 } },
      },
    ],
  };
  channels[connectErrorId] = {
    address: CONNECT_ERROR,
    title: CONNECT_ERROR,
    summary: 'The handshake was refused.',
    messages: { [connectErrorId]: ref(`#/components/messages/${connectErrorId}`) },
  };
  operations[connectErrorId] = {
    action: 'receive',
    channel: ref(`#/channels/${connectErrorId}`),
    title: CONNECT_ERROR,
    summary: 'The handshake was refused.',
    description:
      'A missing, malformed, expired or wrongly signed token is refused at connect with ' +
      '`message: "unauthorized"` and `data.code: "UNAUTHORIZED"`. A node that is shutting ' +
      'down (`message: "shutting down"`) or still starting (`message: "starting"`: its run ' +
      'feed is not connected yet) refuses new connections with `data.code: "BUSY"` and ' +
      '`retryAfterMs`; a retry may reach another node.',
    messages: [ref(`#/channels/${connectErrorId}/messages/${connectErrorId}`)],
    tags: [{ name: 'connection', description: 'The Socket.IO handshake.' }],
  };

  return {
    asyncapi: '3.0.0',
    id: 'urn:coderoom:websocket-api',
    info: {
      title: 'Coderoom WebSocket API',
      version: opts.version ?? '1.0.0',
      description: description(),
      'x-payload-limits': { ...PAYLOAD_LIMITS },
      'x-error-codes': [...ERROR_CODES],
    },
    defaultContentType: 'application/json',
    servers: { coderoom: server(opts.serverUrl) },
    channels,
    operations,
    components: {
      schemas: componentSchemas(input, output),
      messages,
      securitySchemes: {
        jwt: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'A JWT passed in the Socket.IO handshake as `auth: { token }` (not as an HTTP ' +
            'header). Claims: `sub` (user id), `name`, `role` ' +
            `(${ROLES.map((r) => `\`${r}\``).join(' | ')}), \`exp\`. Refused tokens end in ` +
            '`connect_error` with `data.code: "UNAUTHORIZED"`.',
        },
      },
    },
  };
}
