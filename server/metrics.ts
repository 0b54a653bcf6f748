import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RunHost } from '../actors/run-host.ts';
import type { HostMessage } from '../actors/run-messages.ts';
import { isTerminalStatus, RunStatus } from '../machines/schemas.ts';

const MAX_OPEN_TRACKED = 50_000;
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const HUMAN_SECONDS = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600];

/**
 * Prometheus metrics (own registry, no globals). Counters count what *this* node committed, so
 * summing over nodes counts each event once; `hitl_runs` is read from Postgres on scrape.
 */
export function createMetrics(deps: { host: RunHost; wsCount?: () => number }) {
  const host = deps.host;
  const node = host.node;
  const registry = new Registry();
  // The standard names (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`): dashboards expect them.
  collectDefaultMetrics({ register: registry });
  const events = new Counter({
    name: 'hitl_events_total',
    help: 'Run events committed by this node, by type',
    labelNames: ['type'],
    registers: [registry],
  });
  const finished = new Counter({
    name: 'hitl_runs_finished_total',
    help: 'Runs that reached a terminal status on this node',
    labelNames: ['status'],
    registers: [registry],
  });
  new Gauge({
    name: 'hitl_runs',
    help: 'Runs by status (read from the database on scrape)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const counts = await Promise.all(
        RunStatus.options.map(async (status) => {
          const page = await host.listRuns({ statuses: [status] }, 1, null).catch(() => null);
          return [status, page?.total ?? null] as const;
        }),
      );
      for (const [status, total] of counts) if (total !== null) this.set({ status }, total);
    },
  });
  /** A histogram of this registry, observed with `labelNames` (none by default). */
  const histogram = <L extends string = never>(
    name: string,
    help: string,
    buckets: number[],
    labelNames: readonly L[] = [],
  ) => new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });
  /** A counter the runtime keeps: read on scrape. */
  const runtimeCounter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  const humanWait = histogram(
    'hitl_human_wait_seconds',
    'Time an approval waited for a human (or its timeout), by checkpoint type',
    HUMAN_SECONDS,
    ['checkpoint_type', 'action'],
  );
  const decisionLatency = histogram(
    'hitl_decision_latency_seconds',
    'From receiving a decision over HTTP to its acknowledgement (committed)',
    SECONDS,
  );
  const applyLatency = histogram(
    'hitl_event_apply_seconds',
    'From stamping an event to its commit being published',
    SECONDS,
  );
  // Counted by the runtime: logical commits (one per input) and the Postgres write transactions
  // they and everything else took (group commit makes the second smaller than the first).
  runtimeCounter(
    'hitl_commits_total',
    'Logical commits (one per accepted input) made by this node',
    () => host.stats().commits,
  );
  runtimeCounter(
    'hitl_write_transactions_total',
    'Postgres write transactions started by this node (group commits, timers, leases, keys)',
    () => host.stats().write_transactions,
  );
  new Gauge({
    name: 'hitl_websockets_open',
    help: 'Open WebSocket connections on this node',
    registers: [registry],
    collect() {
      this.set(deps.wsCount?.() ?? 0);
    },
  });
  const httpRequests = new Counter({
    name: 'hitl_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const httpDuration = histogram(
    'hitl_http_request_duration_seconds',
    'HTTP request duration by route',
    SECONDS,
    ['method', 'route'],
  );

  // Approvals opened, to time them when they close (on any node: the bus brings the others').
  const open = new Map<string, { created_at: string; checkpoint_type: string }>();
  const remember = (id: string, created_at: string, checkpoint_type: string) => {
    open.set(id, { created_at, checkpoint_type });
    if (open.size > MAX_OPEN_TRACKED) open.delete(open.keys().next().value as string);
  };
  const resolved = (r: { approval_id: string; action: string }, mine: boolean) => {
    const o = open.get(r.approval_id);
    open.delete(r.approval_id);
    if (o && mine) {
      humanWait.observe(
        { checkpoint_type: o.checkpoint_type, action: r.action },
        Math.max(0, Date.now() - Date.parse(o.created_at)) / 1000,
      );
    }
  };

  function onMessage(m: HostMessage): void {
    const mine = m.node === node;
    if (m.kind === 'approval') {
      if (!m.resolved) remember(m.approval.approval_id, m.approval.created_at, m.approval.checkpoint_type);
      else resolved(m.resolved, mine);
      return;
    }
    for (const a of m.opened) remember(a.approval_id, a.created_at, a.checkpoint_type);
    for (const r of m.resolved) resolved(r, mine);
    if (!mine) return;
    for (const row of m.events) events.inc({ type: row.type });
    const first = m.events[0];
    if (first) applyLatency.observe(Math.max(0, Date.now() - Date.parse(first.created_at)) / 1000);
    // A terminal run accepts no further event, so exactly one message carries its terminal status
    // with an input in it; later ones only append derived audit rows (a prediction's cancel).
    if (isTerminalStatus(m.status) && m.events.some((r) => !r.derived)) finished.inc({ status: m.status });
  }
  const unsubscribe = host.subscribe(onMessage);

  return {
    registry,
    /** Seconds from receiving a decision to its acknowledgement. */
    observeDecision: (seconds: number) => decisionLatency.observe(seconds),
    observeHttp(method: string, route: string, status: number, seconds: number): void {
      httpRequests.inc({ method, route, status: String(status) });
      httpDuration.observe({ method, route }, seconds);
    },
    close: unsubscribe,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
