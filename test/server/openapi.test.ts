import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CreateRunBody } from '../../server/schemas.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { type TestApp, testApp } from './support.ts';

let db: TestDatabase;
let t: TestApp;
let doc: Record<string, unknown>;

type Operation = {
  operationId: string;
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  parameters: Array<{ name: string; in: string; required: boolean; schema: unknown }>;
  security: unknown[];
};

beforeAll(async () => {
  db = await createTestDatabase();
  t = testApp(db);
  const res = await t.call('GET', '/openapi.json');
  expect(res.status).toBe(200);
  doc = res.json;
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

const paths = () => doc.paths as Record<string, Record<string, Operation>>;

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3 document: version, info, paths, components', () => {
    expect(String(doc.openapi)).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info).toMatchObject({ title: 'hitl-runs', version: expect.any(String) });
    expect(typeof doc.paths).toBe('object');
    expect((doc.components as { securitySchemes: unknown }).securitySchemes).toMatchObject({
      bearer: { type: 'http', scheme: 'bearer' },
    });
  });

  it('validates against the official OpenAPI 3 JSON schema', async () => {
    const validator = new Validator();
    // A copy: the validator resolves $refs in place.
    const res = await validator.validate(structuredClone(doc));
    expect(res.errors ?? []).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toMatch(/^3\./);
  });

  it('lists every route the app serves, with its method', () => {
    const served = t.app.routes
      .filter((r) => r.method !== 'ALL')
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
    const documented = Object.entries(paths()).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m} ${p}`),
    );
    expect(new Set(documented)).toEqual(new Set(served));
    for (const route of [
      'post /hitl/run',
      'post /teams/run',
      'post /teams/run-hitl',
      'get /hitl/run/{id}/status',
      'get /hitl/runs/{id}',
      'get /hitl/runs/{id}/state',
      'get /hitl/runs/{id}/events',
      'get /hitl/runs/{id}/verify',
      'get /hitl/runs',
      'get /hitl/runs/active',
      'get /hitl/sessions/{session_id}/active',
      'post /hitl/run/{id}/approve',
      'post /hitl/run/{id}/pause',
      'post /hitl/run/{id}/resume',
      'delete /hitl/run/{id}',
      'get /hitl/approvals/pending',
      'post /hitl/approvals',
      'get /hitl/approvals/{id}',
      'post /hitl/approvals/{id}/respond',
      'delete /hitl/approvals/{id}',
      'get /hitl/providers',
      'post /hitl/websocket/message',
      'post /webhooks/replicate',
      'get /healthz',
      'get /readyz',
      'get /metrics',
      'get /openapi.json',
    ]) {
      expect(documented, route).toContain(route);
    }
  });

  it('has well-formed operations: unique ids, responses with descriptions, path parameters declared', () => {
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(paths())) {
      for (const [method, op] of Object.entries(ops)) {
        expect(['get', 'post', 'delete', 'put', 'patch']).toContain(method);
        expect(ids.has(op.operationId), op.operationId).toBe(false);
        ids.add(op.operationId);
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        for (const [status, r] of Object.entries(op.responses)) {
          expect(status).toMatch(/^[1-5]\d\d$/);
          expect(typeof r.description).toBe('string');
        }
        const declared = op.parameters.filter((p) => p.in === 'path').map((p) => p.name);
        const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        expect(declared).toEqual(inPath);
        for (const p of op.parameters) expect(['path', 'query', 'header', 'cookie']).toContain(p.in);
      }
    }
  });

  it('resolves every $ref and marks anonymous routes', () => {
    const text = JSON.stringify(doc);
    for (const m of text.matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)) {
      expect((doc.components as { schemas: Record<string, unknown> }).schemas[m[1] ?? '']).toBeDefined();
    }
    expect(paths()['/healthz']?.get?.security).toEqual([]);
    expect(paths()['/hitl/run']?.post?.security).toEqual([{ bearer: [] }]);
  });

  it('documents requests with the same zod schemas that validate them', () => {
    const body = paths()['/hitl/run']?.post?.requestBody?.content['application/json']?.schema as Record<
      string,
      unknown
    >;
    const expected = z.toJSONSchema(CreateRunBody, {
      target: 'draft-2020-12',
      io: 'input',
      unrepresentable: 'any',
    }) as Record<string, unknown>;
    delete expected.$schema;
    expect(body).toEqual(expected);
    expect(JSON.stringify(body)).toContain('allowed_steps');
    const list = paths()['/hitl/runs']?.get?.parameters.map((p) => p.name);
    expect(list).toEqual(['user_id', 'session_id', 'status', 'limit', 'cursor']);
    expect(paths()['/hitl/runs/{id}/events']?.get?.responses['200']?.content).toHaveProperty(
      'text/event-stream',
    );
  });
});
