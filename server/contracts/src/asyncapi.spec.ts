import { beforeAll, describe, expect, it } from '@jest/globals';
import { Parser, type AsyncAPIDocumentInterface } from '@asyncapi/parser';
import Ajv from 'ajv';
import type { z } from 'zod';
import { ackSchema, connectErrorSchema } from './acks.js';
import { asyncApiId, buildAsyncApiDocument } from './asyncapi.js';
import { ERROR_CODES } from './errors.js';
import { CLIENT_EVENTS, SERVER_EVENTS } from './events.js';
import {
  dashboardCodeResultSchema,
  dashboardCodeSchema,
  problemListResultSchema,
} from './instructor.js';
import { PAYLOAD_LIMITS } from './limits.js';
import {
  emptyResultSchema,
  emptySchema,
  languagesListResultSchema,
  outputChunkSchema,
  runFinishedEventSchema,
  runIdSchema,
  runInputSchema,
  runStartResultSchema,
  runStartSchema,
  runStatusEventSchema,
  runTestEventSchema,
  runWatchResultSchema,
  runWatchSchema,
} from './runs.js';
import {
  dashboardUpdateSchema,
  dashboardWatchResultSchema,
  dashboardWatchSchema,
  docAwarenessEventSchema,
  docAwarenessSchema,
  docSyncResultSchema,
  docSyncSchema,
  docUpdateEventSchema,
  docUpdateSchema,
  problemCreateSchema,
  problemGetSchema,
  problemResultSchema,
  sessionBroadcastEventSchema,
  sessionBroadcastSchema,
  sessionClosedEventSchema,
  sessionCreateSchema,
  sessionIdSchema,
  sessionInstructorsSchema,
  sessionJoinSchema,
  sessionLockSchema,
  sessionLockedEventSchema,
  sessionPresenceEventSchema,
  sessionResultSchema,
  sessionShareSchema,
  sessionSharedEventSchema,
} from './sessions.js';

/** Spectral severity 0: an error (1 warning, 2 information, 3 hint). */
const isError = (d: { severity: number }) => d.severity === 0;

interface Doc {
  asyncapi: string;
  info: { description: string; 'x-payload-limits': unknown; 'x-error-codes': unknown };
  servers: Record<string, { host: string; protocol: string; pathname: string }>;
  channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
  operations: Record<
    string,
    {
      action: string;
      channel: { $ref: string };
      messages: { $ref: string }[];
      reply?: { channel: { $ref: string }; messages: { $ref: string }[] };
    }
  >;
  components: {
    schemas: Record<string, object>;
    messages: Record<
      string,
      { name: string; payload: { $ref: string }; examples: { name: string; payload: unknown }[] }
    >;
  };
}

const doc = buildAsyncApiDocument() as Doc;

// The contracts' own schemas, event by event: the document must agree with them.
const CLIENT_ZOD: Record<(typeof CLIENT_EVENTS)[number], [z.ZodType, z.ZodObject]> = {
  'run:start': [runStartSchema, runStartResultSchema],
  'run:input': [runInputSchema, emptyResultSchema],
  'run:cancel': [runIdSchema, emptyResultSchema],
  'run:watch': [runWatchSchema, runWatchResultSchema],
  'run:unwatch': [runIdSchema, emptyResultSchema],
  'languages:list': [emptySchema, languagesListResultSchema],
  'session:create': [sessionCreateSchema, sessionResultSchema],
  'session:join': [sessionJoinSchema, sessionResultSchema],
  'session:get': [sessionIdSchema, sessionResultSchema],
  'session:leave': [sessionIdSchema, emptyResultSchema],
  'session:close': [sessionIdSchema, emptyResultSchema],
  'session:instructors': [sessionInstructorsSchema, emptyResultSchema],
  'session:lock': [sessionLockSchema, emptyResultSchema],
  'session:broadcast': [sessionBroadcastSchema, emptyResultSchema],
  'session:share': [sessionShareSchema, emptyResultSchema],
  'problem:create': [problemCreateSchema, problemResultSchema],
  'problem:get': [problemGetSchema, problemResultSchema],
  'doc:sync': [docSyncSchema, docSyncResultSchema],
  'doc:update': [docUpdateSchema, emptyResultSchema],
  'doc:awareness': [docAwarenessSchema, emptyResultSchema],
  'dashboard:watch': [dashboardWatchSchema, dashboardWatchResultSchema],
  'dashboard:unwatch': [sessionIdSchema, emptyResultSchema],
  'problem:list': [emptySchema, problemListResultSchema],
  'dashboard:code': [dashboardCodeSchema, dashboardCodeResultSchema],
};
const SERVER_ZOD: Record<(typeof SERVER_EVENTS)[number], z.ZodType> = {
  'run:status': runStatusEventSchema,
  'run:output': outputChunkSchema,
  'run:test': runTestEventSchema,
  'run:finished': runFinishedEventSchema,
  'session:presence': sessionPresenceEventSchema,
  'session:closed': sessionClosedEventSchema,
  'session:broadcast': sessionBroadcastEventSchema,
  'session:locked': sessionLockedEventSchema,
  'session:shared': sessionSharedEventSchema,
  'doc:update': docUpdateEventSchema,
  'doc:awareness': docAwarenessEventSchema,
  'dashboard:update': dashboardUpdateSchema,
};

/** The id of a server event's channel: `Event` added where a client event has the name. */
const serverId = (event: string) =>
  asyncApiId(event) + ((CLIENT_EVENTS as readonly string[]).includes(event) ? 'Event' : '');

/** A JSON Schema validator over the document, so that `#/components/...` references resolve. */
const ajv = new Ajv({ allErrors: true });
ajv.addSchema({ components: doc.components }, 'asyncapi.json');
const messageValidator = (messageId: string) => {
  const message = doc.components.messages[messageId];
  if (!message) throw new Error(`no message ${messageId}`);
  return ajv.compile({ $ref: `asyncapi.json${message.payload.$ref}` });
};
const jsonValid = (messageId: string, payload: unknown) =>
  messageValidator(messageId)(payload) as boolean;

describe('buildAsyncApiDocument', () => {
  let parsed: AsyncAPIDocumentInterface | undefined;
  let errors: unknown[];

  beforeAll(async () => {
    const out = await new Parser().parse(JSON.stringify(doc));
    parsed = out.document;
    errors = out.diagnostics.filter(isError);
  });

  it('is a valid AsyncAPI 3.0.0 document', () => {
    expect(errors).toEqual([]);
    expect(parsed).toBeDefined();
    expect(doc.asyncapi).toBe('3.0.0');
    expect(parsed?.version()).toBe('3.0.0');
  });

  it('has a channel for every event, sent or received by the client', () => {
    const all = parsed!.channels().all();
    const channels = new Map(all.map((c) => [c.id(), c]));
    for (const event of CLIENT_EVENTS) {
      const channel = channels.get(asyncApiId(event));
      expect(channel?.address()).toBe(event);
      expect(channel).toBeDefined();
      const ops = channel!.operations().all();
      expect(ops.map((o) => o.action())).toEqual(['send']);
      const reply = ops[0].reply();
      expect(reply?.channel()?.address()).toBe(event);
      expect(
        reply
          ?.messages()
          .all()
          .map((m) => m.name()),
      ).toEqual([`${event} ack`]);
      expect(
        ops[0]
          .messages()
          .all()
          .map((m) => m.name()),
      ).toEqual([event]);
    }
    for (const event of SERVER_EVENTS) {
      const channel = channels.get(serverId(event));
      expect(channel?.address()).toBe(event);
      const ops = channel!.operations().all();
      expect(ops.map((o) => o.action())).toEqual(['receive']);
      expect(ops[0].reply()).toBeUndefined();
    }
    expect(channels.get('connectError')?.operations().all()[0]?.action()).toBe('receive');
    expect(all.length).toBe(CLIENT_EVENTS.length + SERVER_EVENTS.length + 1);
  });

  it('uses ids derived from the event names', () => {
    expect(asyncApiId('run:start')).toBe('runStart');
    expect(asyncApiId('languages:list')).toBe('languagesList');
    expect(asyncApiId('connect_error')).toBe('connectError');
    expect(serverId('doc:update')).toBe('docUpdateEvent');
    for (const [event, id] of [
      ...CLIENT_EVENTS.map((e) => [e, asyncApiId(e)]),
      ...SERVER_EVENTS.map((e) => [e, serverId(e)]),
    ]) {
      expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(doc.channels[id]?.address).toBe(event);
      expect(doc.operations[id]?.channel.$ref).toBe(`#/channels/${id}`);
    }
  });

  it('carries the transport, authentication, error codes and limits', () => {
    expect(doc.info['x-payload-limits']).toEqual(PAYLOAD_LIMITS);
    expect(doc.info['x-error-codes']).toEqual(ERROR_CODES);
    expect(doc.servers.coderoom).toMatchObject({ protocol: 'ws', pathname: '/socket.io' });
    const text = doc.info.description;
    for (const fact of [
      'Socket.IO v4',
      '`/socket.io`',
      'auth: { token }',
      '`sub`',
      '`role`',
      '`exp`',
      '`connect_error`',
      '`UNAUTHORIZED`',
      '`afterSeq`',
      '{ ok: true, ...result }',
      ...ERROR_CODES.map((c) => `\`${c}\``),
      ...Object.values(PAYLOAD_LIMITS).map((v) => `| ${v} |`),
    ]) {
      expect([fact, text.includes(fact)]).toEqual([fact, true]);
    }
    const schemes = parsed!.securitySchemes().all();
    expect(schemes.map((s) => [s.type(), s.scheme(), s.bearerFormat()])).toEqual([
      ['http', 'bearer', 'JWT'],
    ]);
  });

  it('takes the server URL and the version as options', () => {
    const d = buildAsyncApiDocument({
      serverUrl: 'https://code.example.com/',
      version: '1.2.3',
    }) as Doc & { info: { version: string } };
    expect(d.servers.coderoom).toMatchObject({
      host: 'code.example.com',
      protocol: 'wss',
      pathname: '/socket.io',
    });
    expect(d.info.version).toBe('1.2.3');
    const local = buildAsyncApiDocument({ serverUrl: 'http://127.0.0.1:3000' }) as Doc;
    expect(local.servers.coderoom).toMatchObject({ host: '127.0.0.1:3000', protocol: 'ws' });
  });

  it('is the same every time, and plain JSON', () => {
    expect(JSON.parse(JSON.stringify(buildAsyncApiDocument()))).toEqual(doc);
    const json = JSON.stringify(doc);
    for (const key of ['"$schema"', '"$id"', '"$defs"', '"definitions"']) {
      expect([key, json.includes(key)]).toEqual([key, false]);
    }
    for (const [, ref] of json.matchAll(/"\$ref":"([^"]+)"/g)) {
      const path = ref.replace(/^#\//, '').split('/');
      let node: unknown = doc;
      for (const p of path) node = (node as Record<string, unknown> | undefined)?.[p];
      expect([ref, node !== undefined]).toEqual([ref, true]);
    }
  });

  it('has examples that both the document and the contracts accept', () => {
    let checked = 0;
    for (const event of CLIENT_EVENTS) {
      const id = asyncApiId(event);
      const [payload, result] = CLIENT_ZOD[event];
      for (const ex of doc.components.messages[id].examples) {
        expect([event, jsonValid(id, ex.payload)]).toEqual([event, true]);
        expect([event, payload.safeParse(ex.payload).success]).toEqual([event, true]);
        checked++;
      }
      const ack = ackSchema(result);
      for (const ex of doc.components.messages[`${id}Ack`].examples) {
        expect([event, jsonValid(`${id}Ack`, ex.payload)]).toEqual([event, true]);
        expect([event, ack.safeParse(ex.payload).success]).toEqual([event, true]);
        checked++;
      }
    }
    for (const event of SERVER_EVENTS) {
      const id = serverId(event);
      for (const ex of doc.components.messages[id].examples) {
        expect([event, jsonValid(id, ex.payload)]).toEqual([event, true]);
        expect([event, SERVER_ZOD[event].safeParse(ex.payload).success]).toEqual([event, true]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  // Payloads checked against the document's JSON Schema and against zod: they must agree.
  const cases: [string, z.ZodType, unknown, boolean][] = [
    ['runStart', runStartSchema, { language: 'python', source: 'x' }, true],
    ['runStart', runStartSchema, { language: 'c', files: [{ path: 'a/b.c', content: '' }] }, true],
    ['runStart', runStartSchema, { language: 'python' }, false],
    ['runStart', runStartSchema, { language: 'python', source: 'x', files: [] }, false],
    [
      'runStart',
      runStartSchema,
      { language: 'python', source: 'x', files: [{ path: 'a.py', content: '' }] },
      false,
    ],
    ['runStart', runStartSchema, { source: 'x' }, false],
    ['runStart', runStartSchema, { language: 'c', files: [{ path: '../a', content: '' }] }, false],
    [
      'runStart',
      runStartSchema,
      { language: 'c', files: [{ path: 'a/b/c/d/e/f/g', content: '' }] },
      false,
    ],
    ['runStart', runStartSchema, { language: 'python', source: 'x', mode: 'debug' }, false],
    ['runWatch', runWatchSchema, { runId: 'r', afterSeq: 3 }, true],
    ['runWatch', runWatchSchema, { runId: 'r', afterSeq: -1 }, false],
    ['runWatch', runWatchSchema, { runId: 'r', afterSeq: 1.5 }, false],
    ['runWatch', runWatchSchema, { afterSeq: 1 }, false],
    ['runInput', runInputSchema, { runId: 'r', data: 'x', eof: true }, true],
    ['runInput', runInputSchema, { runId: 'r', eof: true }, false],
    ['languagesList', emptySchema, {}, true],
    ['languagesList', emptySchema, 'all', false],
    ['runOutput', outputChunkSchema, { runId: 'r', seq: 1, stream: 'stderr', data: '' }, true],
    ['runOutput', outputChunkSchema, { runId: 'r', seq: 0, stream: 'stderr', data: '' }, false],
    ['runOutput', outputChunkSchema, { runId: 'r', seq: 1, stream: 'stdin', data: '' }, false],
    [
      'runStatus',
      runStatusEventSchema,
      { runId: 'r', status: 'running', at: '2025-01-01T00:00:00Z' },
      true,
    ],
    ['runStatus', runStatusEventSchema, { runId: 'r', status: 'running', at: 'now' }, false],
    [
      'runStatus',
      runStatusEventSchema,
      { runId: 'r', status: 'finished', at: '2025-01-01T00:00:00Z' },
      false,
    ],
    [
      'runFinished',
      runFinishedEventSchema,
      {
        runId: 'r',
        verdict: 'TLE',
        exitCode: null,
        signal: 'SIGKILL',
        timeMs: 2000,
        memoryKb: null,
        truncated: false,
      },
      true,
    ],
    [
      'runFinished',
      runFinishedEventSchema,
      { runId: 'r', verdict: 'OK', exitCode: 0, signal: null, timeMs: 1, truncated: false },
      false,
    ],
    ['runStartAck', ackSchema(runStartResultSchema), { ok: true, runId: 'r' }, false],
    [
      'runStartAck',
      ackSchema(runStartResultSchema),
      { ok: true, runId: 'r', status: 'queued', position: 3 },
      true,
    ],
    [
      'runCancelAck',
      ackSchema(emptyResultSchema),
      { ok: false, error: { code: 'BUSY', message: 'm', retryAfterMs: 10 } },
      true,
    ],
    ['runCancelAck', ackSchema(emptyResultSchema), { ok: false }, false],
    [
      'runCancelAck',
      ackSchema(emptyResultSchema),
      { ok: false, error: { code: 'NOPE', message: 'm' } },
      false,
    ],
    [
      'connectError',
      connectErrorSchema,
      { message: 'unauthorized', data: { code: 'UNAUTHORIZED' } },
      true,
    ],
    ['connectError', connectErrorSchema, { message: 'nope' }, false],
    ['connectError', connectErrorSchema, { message: 'x', data: { code: 'NOPE' } }, false],
    ['sessionJoin', sessionJoinSchema, { joinCode: 'k7pq2m' }, true],
    ['sessionJoin', sessionJoinSchema, {}, false],
    ['sessionBroadcast', sessionBroadcastSchema, { sessionId: 's', language: 'c' }, false],
    [
      'sessionBroadcast',
      sessionBroadcastSchema,
      { sessionId: 's', language: 'c', source: '' },
      true,
    ],
    ['docUpdate', docUpdateSchema, { sessionId: 's', update: 'AAE=' }, true],
    ['docUpdate', docUpdateSchema, { sessionId: 's', update: 'not base64!' }, false],
    ['problemCreate', problemCreateSchema, { title: 't', statement: '', tests: [] }, false],
    [
      'problemCreate',
      problemCreateSchema,
      { title: 't', statement: '', tests: [{ stdin: '', expected: '1', hidden: true }] },
      true,
    ],
    ['dashboardWatch', dashboardWatchSchema, { sessionId: 's', afterSeq: -2 }, false],
    ['dashboardUpdate', dashboardUpdateSchema, { sessionId: 's', seq: 1, kind: 'explode' }, false],
  ];

  const rows = cases.map(([id, schema, payload, valid]) => ({ id, schema, payload, valid }));
  it.each(rows)('$id: $payload is valid: $valid', ({ id, schema, payload, valid }) => {
    expect(jsonValid(id, payload)).toBe(valid);
    expect(schema.safeParse(payload).success).toBe(valid);
  });

  it('does not require what the server may add later', () => {
    const chunk = { runId: 'r', seq: 1, stream: 'stdout', data: '', later: 1 };
    expect(jsonValid('runOutput', chunk)).toBe(true);
  });
});
