/**
 * The e2e benchmark's client: `node:http` with a keep-alive agent (cheap next to `fetch`, and it
 * shares the cores with the server). One run = create, long-poll, approve, long-poll, approve,
 * long-poll until terminal: the run shape of issue 7.
 */
import { Agent, request } from 'node:http';

export interface Target {
  url: string;
  key: string;
  /** The Replicate tool config of every run. */
  tool: Record<string, unknown>;
  /** The prompt of every run (default: a short one). */
  prompt?: string;
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

export function createClient(target: Target, sockets: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const base = new URL(target.url);

  function call(method: string, path: string, body?: unknown): Promise<Answer> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent,
          host: base.hostname,
          port: base.port,
          method,
          path,
          headers: {
            authorization: `Bearer ${target.key}`,
            ...(data
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: Record<string, unknown> = {};
            try {
              parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            } catch {
              parsed = { text };
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  }

  function must(a: Answer, what: string): Record<string, unknown> {
    if (a.status !== 200 && a.status !== 201 && a.status !== 202) {
      throw new Error(`${what}: HTTP ${a.status} ${JSON.stringify(a.body).slice(0, 300)}`);
    }
    return a.body;
  }

  const approvalId = (view: Record<string, unknown>, what: string): string => {
    const approval = view.approval as { approval_id?: unknown } | null | undefined;
    if (typeof approval?.approval_id !== 'string')
      throw new Error(`${what}: no open approval (status ${String(view.status)})`);
    return approval.approval_id;
  };

  /** One run of the shape; returns the two decision→ack latencies in ms. */
  async function oneRun(): Promise<number[]> {
    const created = must(
      await call('POST', '/hitl/run', {
        run_input: {
          prompt: target.prompt ?? 'A lighthouse at dusk',
          user_id: 'bench',
          agent_tool_config: target.tool,
        },
        hitl_config: { policy: 'require_human', allowed_steps: ['payload_review', 'response_review'] },
      }),
      'create',
    );
    const id = String(created.run_id);
    const lat: number[] = [];
    for (const step of ['payload_review', 'response_review']) {
      const view = must(await call('GET', `/hitl/runs/${id}?wait_for=awaiting_human&timeout=30`), 'wait');
      if (view.current_step !== step) {
        // Say why the run stopped elsewhere (error_recovery: its error's code and message).
        throw new Error(
          `${step}: run ${id} is at ${String(view.current_step)} (${String(view.status)}), error ${JSON.stringify(view.error ?? null).slice(0, 300)}`,
        );
      }
      const approval = approvalId(view, step);
      const t = performance.now();
      must(await call('POST', `/hitl/run/${id}/approve`, { approval_id: approval, action: 'approve' }), step);
      lat.push(performance.now() - t);
    }
    const end = must(await call('GET', `/hitl/runs/${id}?wait_for=terminal&timeout=30`), 'terminal');
    if (end.status !== 'completed') throw new Error(`run ${id} ended ${String(end.status)}`);
    return lat;
  }

  return { call, oneRun, close: () => agent.destroy() };
}

export interface LoadResult {
  runs: number;
  seconds: number;
  ackMs: number[];
  errors: string[];
}

/**
 * `clients` loops doing runs back to back; runs that finish inside the measured window (after
 * `warmupMs`, for `windowMs`) count. `onWindow` is called at the window's start and end (CPU,
 * counters and WAL are read there).
 */
export async function drive(
  client: ReturnType<typeof createClient>,
  clients: number,
  warmupMs: number,
  windowMs: number,
  onWindow: (edge: 'start' | 'end') => Promise<void>,
): Promise<LoadResult> {
  const result: LoadResult = { runs: 0, seconds: windowMs / 1000, ackMs: [], errors: [] };
  let measuring = false;
  let stop = false;
  const loops = Array.from({ length: clients }, async () => {
    while (!stop) {
      try {
        const lat = await client.oneRun();
        if (measuring) {
          result.runs++;
          result.ackMs.push(...lat);
        }
      } catch (err) {
        if (result.errors.length < 20) result.errors.push(err instanceof Error ? err.message : String(err));
        if (result.errors.length >= 20) stop = true;
      }
    }
  });
  await new Promise((r) => setTimeout(r, warmupMs));
  await onWindow('start');
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, windowMs));
  measuring = false;
  result.seconds = (performance.now() - t0) / 1000;
  await onWindow('end');
  stop = true;
  await Promise.all(loops);
  return result;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
