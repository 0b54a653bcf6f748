import cluster, { type Worker } from 'node:cluster';
import { localApiKey } from './auth/api-key.ts';
import { type Config, DEFAULT_DATA_DIR } from './config.ts';

/**
 * `HITL_WORKERS=N` (issue 7): N processes on one port (`node:cluster`), each a node of its own
 * sharing Postgres and the fan-out (Redis, or without `REDIS_URL` Postgres `LISTEN/NOTIFY`: the
 * workers are given the database's URL, so none of them takes the single-process in-process
 * fan-out), so both cores work. The primary serves nothing: it alone
 * starts the embedded Postgres and makes the service key, hands both to the workers, restarts a
 * worker that dies, and on SIGTERM/SIGINT stops them (each drains as a single node does) and
 * then its Postgres.
 */
export async function runWorkers(
  cfg: Config,
  start: (cfg: Config) => Promise<void>,
  /** Starts the embedded Postgres (given by the composition root: server/ never imports persistence/). */
  startDatabase: () => Promise<{ url: string; stop(): Promise<void> }>,
): Promise<void> {
  if (cfg.HITL_WORKERS <= 1 || !cluster.isPrimary) return start(cfg);
  const env: Record<string, string> = {};
  let stopPg: (() => Promise<void>) | null = null;
  if (!cfg.DATABASE_URL) {
    const pg = await startDatabase();
    stopPg = () => pg.stop();
    env.DATABASE_URL = pg.url;
  }
  if (cfg.HITL_API_KEYS.length === 0) {
    const local = await localApiKey(cfg.HITL_DATA_DIR ?? DEFAULT_DATA_DIR);
    if (local.created)
      process.stderr.write(
        `\nhitl-runs: generated service key (saved to ${local.file}):\n  ${local.key}\n\n`,
      );
    else process.stderr.write(`hitl-runs: using the service key in ${local.file}\n`);
    env.HITL_API_KEYS = local.key;
    // A generated key keeps the service on loopback, as a single process does.
    if (!cfg.HOST.startsWith('127.') && cfg.HOST !== 'localhost' && cfg.HOST !== '::1')
      env.HOST = '127.0.0.1';
  }

  let stopping = false;
  const fork = (index: number): Worker => {
    const node = cfg.HITL_NODE_ID ? { HITL_NODE_ID: `${cfg.HITL_NODE_ID}-${index}` } : {};
    const worker = cluster.fork({ ...env, ...node, HITL_WORKER_INDEX: String(index) });
    worker.once('exit', () => {
      if (!stopping) fork(index);
    });
    return worker;
  };
  for (let i = 0; i < cfg.HITL_WORKERS; i++) fork(i);

  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const live = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(
      live.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('exit', () => resolve());
            w.process.kill(signal);
          }),
      ),
    );
    await stopPg?.().catch(() => undefined);
    process.exit(0);
  };
  // `on`, not `once`: Ctrl-C reaches the primary twice (from the terminal and relayed by a
  // launcher such as tsx), and a second signal without a listener would kill it before it stops
  // its Postgres. `stop` runs once.
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
