import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The gateway's Prometheus metrics (prom-client); `GET /metrics` renders them. */
@Injectable()
export class MetricsRepository {
  private readonly registry = new Registry();
  private readonly sockets = new Gauge({
    name: 'coderoom_gateway_sockets',
    help: 'Connected sockets on this node',
    registers: [this.registry],
  });
  private readonly eventsIn = new Counter({
    name: 'coderoom_gateway_events_in_total',
    help: 'Client events received, by event and outcome (ok or error code)',
    labelNames: ['event', 'outcome'],
    registers: [this.registry],
  });
  private readonly eventsOut = new Counter({
    name: 'coderoom_gateway_events_out_total',
    help: 'Run events sent to sockets, by event',
    labelNames: ['event'],
    registers: [this.registry],
  });
  private readonly runsAdmitted = new Counter({
    name: 'coderoom_runs_admitted_total',
    help: 'Runs accepted into the queue, by language',
    labelNames: ['language'],
    registers: [this.registry],
  });
  private readonly queueWaiting = new Gauge({
    name: 'coderoom_queue_waiting',
    help: 'Runs waiting in the queue (read at scrape time)',
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'coderoom_gateway_errors_total',
    help: 'Unexpected errors (INTERNAL answers, failed background work)',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'coderoom_gateway_' });
  }

  socketConnected(delta: 1 | -1): void {
    this.sockets.inc(delta);
  }
  eventIn(event: string, outcome: string): void {
    this.eventsIn.inc({ event, outcome });
  }
  eventOut(event: string): void {
    this.eventsOut.inc({ event });
  }
  runAdmitted(language: string): void {
    this.runsAdmitted.inc({ language });
  }
  error(): void {
    this.errors.inc();
  }

  async render(queueWaiting: number | null): Promise<{ contentType: string; body: string }> {
    if (queueWaiting !== null) this.queueWaiting.set(queueWaiting);
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
