import { Injectable } from '@nestjs/common';
import type { RunFeedEvent } from '@coderoom/contracts';
import { FeedBusRepository } from '../repositories/feed-bus.repository.js';

/** Where a watched run's events go: in production a socket, in tests a recorder. */
export interface FeedSink {
  readonly id: string;
  send(e: RunFeedEvent): void;
}

interface Watch {
  sink: FeedSink;
  /** Highest output seq this sink has been given. */
  cursor: number;
  /** While a watch is being answered, live events wait here so that none is sent twice. */
  pending: RunFeedEvent[] | null;
}

/** Bound on events held for one watcher while its backlog is read (a few ms of output). */
const MAX_PENDING = 10_000;

/**
 * This node's registry of who watches which run. While a run has watchers here, the node
 * listens to the run's feed channel (worker -> Redis -> the nodes that listen) and forwards
 * each event to its local watchers, each from its own cursor. This is what makes
 * `run:watch { afterSeq }` exact: no gap, no duplicate.
 */
@Injectable()
export class RunFeedService {
  private readonly byRun = new Map<string, Map<string, Watch>>();
  private readonly bySink = new Map<string, Set<string>>();

  constructor(private readonly bus: FeedBusRepository) {}

  /**
   * Starts delivering a run's events to a sink, from `afterSeq` on. Resolves once this node
   * receives the run's feed (at once when it already did): anything written to the run's log
   * after that arrives live. Rejects when Redis is unreachable; the caller then unsubscribes.
   */
  subscribe(runId: string, sink: FeedSink, afterSeq: number, syncing: boolean): Promise<void> {
    let watches = this.byRun.get(runId);
    if (!watches) this.byRun.set(runId, (watches = new Map<string, Watch>()));
    const existing = watches.get(sink.id);
    watches.set(sink.id, {
      sink,
      cursor: existing && !syncing ? existing.cursor : afterSeq,
      pending: syncing ? [] : null,
    });
    let runs = this.bySink.get(sink.id);
    if (!runs) this.bySink.set(sink.id, (runs = new Set<string>()));
    runs.add(runId);
    return this.bus.listen(runId);
  }

  /**
   * Ends the sync of a watch whose backlog (up to `deliveredSeq`) has been sent: events that
   * arrived meanwhile are delivered now, skipping what the backlog already held.
   */
  completeSync(runId: string, sinkId: string, deliveredSeq: number): void {
    const watch = this.byRun.get(runId)?.get(sinkId);
    if (!watch || !watch.pending) return;
    const pending = watch.pending;
    watch.pending = null;
    watch.cursor = Math.max(watch.cursor, deliveredSeq);
    for (const e of pending) this.deliver(runId, watch, e);
  }

  unsubscribe(runId: string, sinkId: string): void {
    this.drop(runId, sinkId);
    const runs = this.bySink.get(sinkId);
    runs?.delete(runId);
    if (runs?.size === 0) this.bySink.delete(sinkId);
  }

  /** Forgets a sink everywhere (socket disconnected). */
  removeSink(sinkId: string): void {
    for (const runId of this.bySink.get(sinkId) ?? []) this.drop(runId, sinkId);
    this.bySink.delete(sinkId);
  }

  /** Removes one watch; the run's last one here ends this node's interest in its feed. */
  private drop(runId: string, sinkId: string): void {
    const watches = this.byRun.get(runId);
    if (!watches?.delete(sinkId) || watches.size > 0) return;
    this.byRun.delete(runId);
    this.bus.forget(runId);
  }

  dispatch(e: RunFeedEvent): void {
    const runId = e.event.runId;
    const watches = this.byRun.get(runId);
    if (!watches) return;
    for (const watch of [...watches.values()]) {
      if (watch.pending) {
        if (watch.pending.length < MAX_PENDING) watch.pending.push(e);
        continue;
      }
      this.deliver(runId, watch, e);
    }
  }

  watcherCount(runId: string): number {
    return this.byRun.get(runId)?.size ?? 0;
  }

  private deliver(runId: string, watch: Watch, e: RunFeedEvent): void {
    if (e.kind === 'run:output') {
      if (e.event.seq <= watch.cursor) return;
      watch.cursor = e.event.seq;
    }
    watch.sink.send(e);
    // After the end nothing more comes for this run: free the registry entry.
    if (e.kind === 'run:finished') this.unsubscribe(runId, watch.sink.id);
  }
}
