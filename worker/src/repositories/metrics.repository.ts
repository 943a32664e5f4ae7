import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The worker's Prometheus metrics (prom-client); served on its HTTP port at /metrics. */
@Injectable()
export class MetricsRepository {
  readonly registry = new Registry();
  private readonly finished = new Counter({
    name: 'coderoom_runs_finished_total',
    help: 'Runs finished by this worker, by language and verdict',
    labelNames: ['language', 'verdict'],
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'coderoom_run_duration_seconds',
    help: 'Run phase time (program start to exit), by language',
    labelNames: ['language'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly firstOutput = new Histogram({
    name: 'coderoom_time_to_first_output_seconds',
    help: 'From the worker taking the job to the first chunk of output, by language',
    labelNames: ['language'],
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly queueWait = new Histogram({
    name: 'coderoom_queue_wait_seconds',
    help: 'Time a run waited in the queue before a worker took it',
    buckets: SECONDS,
    registers: [this.registry],
  });
  private readonly active = new Gauge({
    name: 'coderoom_worker_active_runs',
    help: 'Runs executing on this worker now',
    registers: [this.registry],
  });
  readonly warmPool = new Gauge({
    name: 'coderoom_warm_pool_size',
    help: 'Pre-started sandbox containers ready on this worker (0: no warm pool)',
    registers: [this.registry],
  });
  readonly pendingRemovals = new Gauge({
    name: 'coderoom_sandbox_removals_pending',
    help: 'Used sandboxes waiting to be removed, or being removed, after their run ended',
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'coderoom_worker_errors_total',
    help: 'Engine failures (runs ended as SE) and failed background work',
    labelNames: ['kind'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'coderoom_worker_' });
  }

  runStarted(queueWaitMs: number): void {
    this.active.inc();
    this.queueWait.observe(queueWaitMs / 1000);
  }
  runFinished(language: string, verdict: string, runMs: number): void {
    this.active.dec();
    this.finished.inc({ language, verdict });
    if (runMs > 0) this.duration.observe({ language }, runMs / 1000);
  }
  firstOutputAfter(language: string, ms: number): void {
    this.firstOutput.observe({ language }, ms / 1000);
  }
  error(kind: string): void {
    this.errors.inc({ kind });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
