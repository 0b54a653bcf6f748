import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  cancelPrediction,
  type FakeOutcome,
  type Lifecycle,
  startPrediction,
} from './fake-replicate-predictions.ts';
import type { FakeCreate, FakeModel, FakeReplicate, FakeReplicateOptions } from './fake-replicate-types.ts';

export { type FakeOutcome, rateLimit, signWebhook } from './fake-replicate-predictions.ts';
export type { FakeCreate, FakeModel, FakeReplicate, FakeReplicateOptions } from './fake-replicate-types.ts';

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

const field = (body: unknown, key: string): unknown =>
  typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;

/** A fake Replicate HTTP API on 127.0.0.1, port 0, for the real `replicate` client. */
export async function startFakeReplicate(opts: FakeReplicateOptions = {}): Promise<FakeReplicate> {
  const models = new Map(Object.entries(opts.models ?? {}));
  const life: Lifecycle = {
    predictions: new Map(),
    timers: new Set(),
    webhooks: [],
    webhookSecret: opts.webhookSecret,
  };
  const received: FakeReplicate['received'] = {
    creates: [],
    gets: [],
    cancels: [],
    modelGets: [],
    webhooks: life.webhooks,
    requests: [],
  };
  const createQueue: FakeOutcome[] = [];
  const getQueue: Array<Extract<FakeOutcome, { kind: 'http' }>> = [];
  const hanging = new Set<ServerResponse>();
  let defaultOutcome: FakeOutcome = opts.defaultOutcome ?? { kind: 'succeed', afterMs: 30 };
  let baseUrl = '';

  const answerHttp = (res: ServerResponse, o: Extract<FakeOutcome, { kind: 'http' }>) =>
    send(res, o.status, o.body ?? { detail: `Fake answer ${o.status}`, status: o.status }, {
      ...(o.retryAfter !== undefined ? { 'retry-after': String(o.retryAfter) } : {}),
    });

  async function create(req: IncomingMessage, res: ServerResponse, model: string | null): Promise<void> {
    const body = await readJson(req);
    const version = typeof field(body, 'version') === 'string' ? String(field(body, 'version')) : null;
    const webhook = typeof field(body, 'webhook') === 'string' ? String(field(body, 'webhook')) : null;
    const record: FakeCreate = {
      input: field(body, 'input'),
      version,
      model,
      webhook,
      webhook_events_filter: field(body, 'webhook_events_filter'),
      answered: null,
    };
    received.creates.push(record);
    const outcome = createQueue.shift() ?? defaultOutcome;
    if (outcome.kind === 'hang') {
      hanging.add(res);
      return;
    }
    const fields = { version, model, input: record.input, webhook, filter: record.webhook_events_filter };
    if (outcome.kind === 'http') {
      if (outcome.create)
        startPrediction(
          life,
          baseUrl,
          fields,
          defaultOutcome.kind === 'hang' ? { kind: 'succeed' } : defaultOutcome,
        );
      record.answered = outcome.status;
      return answerHttp(res, outcome);
    }
    if (!model && !version) {
      record.answered = 422;
      return send(res, 422, { title: 'Invalid version', detail: 'version is required', status: 422 });
    }
    record.answered = 201;
    send(res, 201, startPrediction(life, baseUrl, fields, outcome));
  }

  function modelJson(owner: string, name: string, m: FakeModel) {
    const lv = m.latest_version;
    const version = lv
      ? {
          id: lv.id,
          created_at: '2024-01-01T00:00:00.000Z',
          cog_version: '0.9.0',
          openapi_schema: lv.openapi_schema,
        }
      : null;
    return {
      url: `https://replicate.com/${owner}/${name}`,
      owner,
      name,
      description: m.description ?? '',
      visibility: 'public',
      is_official: false,
      run_count: 0,
      latest_version: version,
    };
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const authorization = req.headers.authorization ?? null;
    received.requests.push({ method, path, authorization });
    if (!authorization || !/^Bearer \S+/.test(authorization)) {
      return send(res, 401, {
        title: 'Unauthenticated',
        detail: 'You did not pass an authentication token',
        status: 401,
      });
    }
    const parts = path.split('/').filter(Boolean);
    const [v1, a, b, c, d, e] = parts;
    if (v1 !== 'v1') return send(res, 404, { detail: 'Not found.' });
    if (method === 'POST' && a === 'predictions' && parts.length === 2) return create(req, res, null);
    if (method === 'POST' && a === 'models' && d === 'predictions' && parts.length === 5)
      return create(req, res, `${b}/${c}`);
    if (a === 'predictions' && b) {
      const json = life.predictions.get(b);
      if (method === 'GET' && parts.length === 3) {
        received.gets.push(b);
        const scripted = getQueue.shift();
        if (scripted) return answerHttp(res, scripted);
        return json ? send(res, 200, json) : send(res, 404, { detail: 'Not found.', status: 404 });
      }
      if (method === 'POST' && c === 'cancel' && parts.length === 4) {
        received.cancels.push(b);
        if (!json) return send(res, 404, { detail: 'Not found.', status: 404 });
        cancelPrediction(life, json);
        return send(res, 200, json);
      }
    }
    if (method === 'GET' && a === 'models' && b && c) {
      received.modelGets.push(parts.slice(2).join('/'));
      const m = models.get(`${b}/${c}`);
      if (m && parts.length === 4) return send(res, 200, modelJson(b, c, m));
      if (m && d === 'versions' && e && parts.length === 6) {
        const schema = e === m.latest_version?.id ? m.latest_version.openapi_schema : m.versions?.[e];
        if (schema !== undefined)
          return send(res, 200, {
            id: e,
            created_at: '2024-01-01T00:00:00.000Z',
            cog_version: '0.9.0',
            openapi_schema: schema,
          });
      }
      return send(res, 404, { detail: 'Not found.', status: 404 });
    }
    send(res, 404, { detail: 'Not found.', status: 404 });
  }

  const server = createServer((req, res) => {
    route(req, res).catch(() => send(res, 400, { detail: 'Bad request', status: 400 }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;

  const stopAll = () => {
    for (const timer of life.timers) clearTimeout(timer);
    life.timers.clear();
    for (const res of hanging) res.destroy();
    hanging.clear();
  };

  return {
    url: baseUrl,
    received,
    predictions: life.predictions,
    script: (...outcomes) => void createQueue.push(...outcomes),
    scriptGets: (...outcomes) => void getQueue.push(...outcomes),
    setDefault: (outcome) => {
      defaultOutcome = outcome;
    },
    setModel: (name, model) => void models.set(name, model),
    reset() {
      stopAll();
      createQueue.length = 0;
      getQueue.length = 0;
      life.predictions.clear();
      for (const list of [
        received.creates,
        received.gets,
        received.cancels,
        received.modelGets,
        received.webhooks,
        received.requests,
      ])
        list.length = 0;
      defaultOutcome = opts.defaultOutcome ?? { kind: 'succeed', afterMs: 30 };
    },
    async close() {
      stopAll();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
