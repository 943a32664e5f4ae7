import { describe, expect, it } from '@jest/globals';
import { fetchResultsCsv, HttpRefusal, resultsFileName } from './results-csv.js';

const answer = (status: number, body: string, type = 'application/json') =>
  (() =>
    Promise.resolve(
      new Response(body, { status, headers: { 'content-type': type } }),
    )) as typeof fetch;

describe('fetchResultsCsv', () => {
  it('sends the token and answers the CSV text', async () => {
    let seen: [string, RequestInit | undefined] | null = null;
    const fake = ((u: string, init?: RequestInit) => {
      seen = [u, init];
      return Promise.resolve(new Response('user id,name\r\n', { status: 200 }));
    }) as typeof fetch;
    expect(await fetchResultsCsv('http://gw', 'tok', 's 1', fake)).toBe('user id,name\r\n');
    expect(seen).toEqual([
      'http://gw/api/sessions/s%201/results.csv',
      { headers: { authorization: 'Bearer tok' } },
    ]);
  });

  it("throws the server's error code and message, or the HTTP status", async () => {
    const body = JSON.stringify({ ok: false, error: { code: 'FORBIDDEN', message: 'not yours' } });
    await expect(fetchResultsCsv('http://gw', 't', 's', answer(403, body))).rejects.toMatchObject({
      code: 'FORBIDDEN',
      message: 'not yours',
    });
    const err = await fetchResultsCsv(
      'http://gw',
      't',
      's',
      answer(502, '<html>', 'text/html'),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpRefusal);
    expect(err).toMatchObject({ code: 'HTTP_502' });
  });
});

describe('resultsFileName', () => {
  it('keeps letters and digits of the title', () => {
    const at = new Date('2026-12-05T10:00:00Z');
    expect(resultsFileName('CS101, week 3: "loops"', at)).toBe(
      'CS101-week-3-loops-results-2026-12-05.csv',
    );
    expect(resultsFileName('???', at)).toBe('session-results-2026-12-05.csv');
  });
});
