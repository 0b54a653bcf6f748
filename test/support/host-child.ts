/**
 * A run host in a child process, for crash and scale tests (spawned by `child.ts`). Built from the
 * environment, driven by JSON lines on stdin, answering JSON lines on stdout:
 *
 *   { id, op: 'create', config, input }                      → { id, ok, run_id }
 *   { id, op: 'decide', run_id, approval_id, action, edits? } → { id, ok, status, current_step, seq }
 *   { id, op: 'view', run_id }                               → { id, ok, view }
 *   { id, op: 'control', run_id, action: pause|resume|cancel } → { id, ok, status, seq }
 *   { id, op: 'stats' }                                      → { id, ok, rss, heap_used, live }
 *
 * Failures answer `{ id, ok: false, error: { code, message } }`. `HITL_FAULT_POINT` makes the
 * process SIGKILL itself at that point; `FAIL_CAPABILITIES_MS` makes the Replicate provider's
 * capabilities call fail every time after that many ms (no local capabilities either); a closed
 * stdin (the test runner died) ends it.
 */
import { createInterface } from 'node:readline';
import { HitlError } from '../../actors/errors.ts';
import type { Logger } from '../../actors/logger.ts';
import { createEchoProvider } from '../../actors/providers/echo.ts';
import { createProviderRegistry } from '../../actors/providers/registry.ts';
import { createReplicateProvider } from '../../actors/providers/replicate.ts';
import type { Provider } from '../../actors/providers/types.ts';
import { createRunHost } from '../../actors/run-host.ts';
import { DecisionAction, effectiveConfig, HitlConfigInput } from '../../machines/schemas.ts';
import { createMemoryBus, createMemoryCache } from '../../persistence/memory.ts';
import { connectPostgres, createPostgresStore } from '../../persistence/postgres.ts';
import { connectRedis, createRedisBus, createRedisCache } from '../../persistence/redis.ts';
import type { Bus, SnapshotCache } from '../../persistence/types.ts';
import { failingCapabilities } from './failing-provider.ts';

const env = process.env;
const number = (name: string, fallback: number): number => {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};

const databaseUrl = env['DATABASE_URL'];
if (!databaseUrl) throw new Error('DATABASE_URL is required');
const node = env['NODE_ID'] ?? `child-${process.pid}`;
const maxLiveRuns = number('MAX_LIVE_RUNS', 1000);
const faultPoint = env['HITL_FAULT_POINT'];

function line(message: Record<string, unknown>): void {
  // Pipes are written synchronously on Linux: an answer sent before a SIGKILL is not lost.
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

// Warnings and errors go to stderr, which the parent keeps for failure messages.
const log: Logger = {
  info() {},
  warn: (obj, msg) => process.stderr.write(`warn ${msg ?? ''} ${JSON.stringify(obj)}\n`),
  error: (obj, msg) => process.stderr.write(`error ${msg ?? ''} ${JSON.stringify(obj)}\n`),
};

function cacheAndBus(): { cache: SnapshotCache; bus: Bus } {
  const redisUrl = env['REDIS_URL'];
  if (!redisUrl) return { cache: createMemoryCache({ maxEntries: maxLiveRuns }), bus: createMemoryBus() };
  const prefix = env['REDIS_PREFIX'] ?? 'hitl-child:';
  return {
    cache: createRedisCache(connectRedis(redisUrl, `${node}:cache`), { prefix, ttlSeconds: 3600 }),
    bus: createRedisBus(redisUrl, { prefix, connectionName: node }),
  };
}

const providers: Provider[] = [createEchoProvider()];
const replicateUrl = env['REPLICATE_BASE_URL'];
if (replicateUrl) {
  const replicate = createReplicateProvider({ token: 'test-token', baseUrl: replicateUrl });
  const failMs = env['FAIL_CAPABILITIES_MS'];
  providers.push(failMs ? failingCapabilities(replicate, Number(failMs)) : replicate);
}

const host = createRunHost({
  store: createPostgresStore(connectPostgres(databaseUrl, { max: 10 })),
  ...cacheAndBus(),
  providers: createProviderRegistry(providers),
  node,
  leaseMs: number('LEASE_MS', 1000),
  maxLiveRuns,
  log,
  timers: {
    tickMs: number('TICK_MS', 30),
    recoveryMs: number('RECOVERY_MS', 200),
    pollMs: number('POLL_MS', 30),
  },
  ...(faultPoint
    ? {
        fault: (point: string) => {
          if (point === faultPoint) process.kill(process.pid, 'SIGKILL');
        },
      }
    : {}),
});

type Request = Record<string, unknown> & { id?: unknown; op?: unknown };

const str = (v: unknown, name: string): string => {
  if (typeof v !== 'string') throw new HitlError('invalid_request', `${name} must be a string`);
  return v;
};

async function handle(req: Request): Promise<Record<string, unknown>> {
  switch (req.op) {
    case 'create': {
      const input = typeof req.input === 'object' && req.input !== null ? req.input : {};
      const run = await host.createRun({
        run_input: {
          prompt: 'a red fox in the snow',
          agent_tool_config: { 'echo-agent-tool': {} },
          ...input,
        },
        config: effectiveConfig(HitlConfigInput.parse(req.config ?? {}), 'u1'),
        user_id: 'u1',
        session_id: 's1',
        created_by: 'service:child000',
      });
      return { run_id: run.snapshot.context.run_id };
    }
    case 'decide': {
      const edits =
        typeof req.edits === 'object' && req.edits !== null
          ? { edits: req.edits as Record<string, unknown> }
          : {};
      const run = await host.decide(
        str(req.run_id, 'run_id'),
        {
          approval_id: str(req.approval_id, 'approval_id'),
          action: DecisionAction.parse(req.action),
          ...edits,
        },
        'user:u1',
      );
      const view = host.view(run);
      return { status: view.status, current_step: view.current_step, seq: run.seq };
    }
    case 'control': {
      const action = req.action;
      if (action !== 'pause' && action !== 'resume' && action !== 'cancel')
        throw new HitlError('invalid_request', 'action must be pause, resume or cancel');
      const run = await host.control(str(req.run_id, 'run_id'), action, 'service:child000');
      return { status: host.view(run).status, seq: run.seq };
    }
    case 'view': {
      const run = await host.mustRead(str(req.run_id, 'run_id'));
      return { view: host.view(run) };
    }
    case 'stats':
      return {
        rss: process.memoryUsage().rss,
        heap_used: process.memoryUsage().heapUsed,
        live: host.liveCount(),
      };
    default:
      throw new HitlError('invalid_request', `Unknown op ${String(req.op)}`);
  }
}

function answer(raw: string): void {
  let req: Request;
  try {
    req = JSON.parse(raw) as Request;
  } catch {
    line({ id: null, ok: false, error: { code: 'invalid_json', message: 'not JSON' } });
    return;
  }
  handle(req).then(
    (result) => line({ id: req.id, ok: true, ...result }),
    (err: unknown) =>
      line({
        id: req.id,
        ok: false,
        error: {
          code: err instanceof HitlError ? err.code : 'internal',
          message: err instanceof Error ? err.message : String(err),
        },
      }),
  );
}

host.start();
const input = createInterface({ input: process.stdin });
input.on('line', (raw) => {
  if (raw.trim() !== '') answer(raw);
});
// The parent went away (or closed our stdin): nobody can talk to this host any more.
input.on('close', () => process.exit(0));
line({ ready: true, node, pid: process.pid });
