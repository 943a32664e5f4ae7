import type { Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@coderoom/contracts';

/** The typed socket.io socket under a client (`client.socket`). */
export type CoderoomSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Client-to-server events; each one is a request with an acknowledgement. */
export type RequestEvent = keyof ClientToServerEvents;
/** The payload of a request. */
export type PayloadOf<E extends RequestEvent> = Parameters<ClientToServerEvents[E]>[0];
/** The acknowledgement of a request, `{ ok: true, ... } | { ok: false, error }`. */
export type AckOf<E extends RequestEvent> = Parameters<Parameters<ClientToServerEvents[E]>[1]>[0];
/** The successful answer of a request, without `ok`. */
export type ResultOf<E extends RequestEvent> = Omit<Extract<AckOf<E>, { ok: true }>, 'ok'>;

/** What the handles of a client (runs, sessions, dashboards, documents) need from it. Internal. */
export interface ClientLink {
  /** Whether the socket is connected now. */
  readonly connected: boolean;
  /** Goes up by one at every (re)connection of the socket. */
  readonly epoch: number;
  request<E extends RequestEvent>(event: E, payload: PayloadOf<E>): Promise<ResultOf<E>>;
}
