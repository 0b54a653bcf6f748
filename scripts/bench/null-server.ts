/**
 * The ceiling of the e2e benchmark: a server that does no work, answering the same requests the
 * client sends with canned bodies of the real shapes. Started as a child like the real service.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

/** The checkpoint each run's next wait answers (the client checks it): payload, then response. */
const waits = new Map<string, number>();
const STEPS = ['payload_review', 'response_review'];
/** The run id of `/hitl/runs/{id}?…`. */
function runIdOf(url: string): string {
  return url.split('?')[0]?.split('/').pop() ?? '';
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const url = req.url ?? '/';
    let body: unknown;
    let status = 200;
    if (req.method === 'POST' && url === '/hitl/run') {
      status = 201;
      body = { run_id: randomUUID(), status: 'queued', current_step: 'created' };
    } else if (req.method === 'POST') {
      body = { success: true, status: 'running', current_step: 'api_call', action: 'approve' };
    } else if (url.includes('wait_for=terminal')) {
      waits.delete(runIdOf(url));
      body = { status: 'completed', current_step: 'completed', approval: null };
    } else {
      const id = runIdOf(url);
      const n = waits.get(id) ?? 0;
      waits.set(id, n + 1);
      body = {
        status: 'awaiting_human',
        current_step: STEPS[n % STEPS.length],
        approval: { approval_id: randomUUID(), status: 'pending' },
      };
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  process.stdout.write(`null server listening on http://127.0.0.1:${port}\n`);
});
process.once('SIGTERM', () => process.exit(0));
