import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '../../scripts/bench/client.ts';
import { machineTicks, type Service, startService } from '../../scripts/bench/service.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOOL = { 'replicate-agent-tool': { data: { name: 'bench/model' } } };

describe('the e2e benchmark client', () => {
  const closing: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const close of closing) await close();
  });

  it('completes runs against the ceiling server (the do-nothing server answers the checkpoints it checks)', async () => {
    const ceiling: Service = await startService(
      ROOT,
      ['--import', 'tsx', 'scripts/bench/null-server.ts'],
      {},
    );
    closing.push(() => ceiling.stop());
    const client = createClient({ url: ceiling.url, key: 'k', tool: TOOL }, 4);
    closing.push(async () => client.close());
    const runs = await Promise.all([client.oneRun(), client.oneRun(), client.oneRun()]);
    for (const latencies of runs) {
      expect(latencies).toHaveLength(2);
      for (const ms of latencies) expect(ms).toBeGreaterThan(0);
    }
  });

  it('says where a run stopped instead (its step, status and error) when it is not at the expected checkpoint', async () => {
    const server: Server = createServer((req, res) => {
      const body =
        req.method === 'POST'
          ? { run_id: 'r-1', status: 'queued' }
          : {
              status: 'awaiting_human',
              current_step: 'error_recovery',
              error: { code: 'submission_outcome_unknown', message: 'reset' },
              approval: { approval_id: 'a-1' },
            };
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closing.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    const client = createClient({ url: `http://127.0.0.1:${port}`, key: 'k', tool: TOOL }, 1);
    closing.push(async () => client.close());
    await expect(client.oneRun()).rejects.toThrow(
      /payload_review: run r-1 is at error_recovery \(awaiting_human\), error .*submission_outcome_unknown/,
    );
  });
});

describe("the benchmark's steal reading", () => {
  it('reads the machine CPU time and the hypervisor steal from /proc/stat, and NaN from anything else', () => {
    const stat = 'cpu  366979 754 81820 469706 6002 0 15622 64387 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n';
    expect(machineTicks(() => stat)).toEqual({
      total: 366979 + 754 + 81820 + 469706 + 6002 + 0 + 15622 + 64387,
      steal: 64387,
    });
    expect(machineTicks(() => 'intr 1 2 3\n')).toEqual({ total: Number.NaN, steal: Number.NaN });
    const real = machineTicks();
    expect(real.total).toBeGreaterThan(0);
    expect(real.steal).toBeGreaterThanOrEqual(0);
  });
});
