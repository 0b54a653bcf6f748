import { describe, expect, it } from 'vitest';
import { ApprovalView, EventRow, RunStatusView, RunView } from '../../machines/view-schemas.ts';
import { awaitEnd, runAtPayloadReview, SERVICE_ACTOR, type TestApp, withTestApp } from './support.ts';

let t: TestApp;
withTestApp((app) => {
  t = app;
});

type Schema = Record<string, unknown>;
type Operation = { responses: Record<string, { content?: Record<string, { schema: Schema }> }> };

describe('responses and their documented schemas', () => {
  it('the run view, status, events and approvals are exactly the shapes of machines/view-schemas.ts', async () => {
    const { id, approvalId, view } = await runAtPayloadReview(t);
    expect(RunView.strict().parse(view).approval?.approval_id).toBe(approvalId);
    const status = await t.call('GET', `/hitl/run/${id}/status`);
    RunStatusView.strict().parse(status.json);
    const pending = await t.call('GET', `/hitl/approvals/pending?run_id=${id}`);
    for (const a of pending.json.approvals as unknown[]) ApprovalView.strict().parse(a);

    await t.call('POST', `/hitl/run/${id}/approve`, { body: { approval_id: approvalId, action: 'approve' } });
    const done = RunView.strict().parse(await awaitEnd(t, id));
    expect(done.status).toBe('completed');
    const events = (await t.call('GET', `/hitl/runs/${id}/events`)).json.events as unknown[];
    const rows = events.map((e) => EventRow.strict().parse(e));
    // The decision names the checkpoint it decided, not the step the run moved on to.
    expect(rows.find((r) => r.type === 'review.approve')?.message).toBe(
      `approve at payload_review by ${SERVICE_ACTOR}`,
    );
  });

  it('documents every JSON success response with a specific schema, the views as components with examples', async () => {
    const doc = (await t.call('GET', '/openapi.json', { token: null })).json as {
      paths: Record<string, Record<string, Operation>>;
      components: { schemas: Record<string, Schema> };
    };
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, r] of Object.entries(op.responses)) {
          const schema = r.content?.['application/json']?.schema;
          if (!schema || !status.startsWith('2')) continue;
          const loose = schema.type === 'object' && !schema.properties;
          expect(loose, `${method} ${path} ${status}`).toBe(false);
          // With an example, here or on the component it refers to (the document itself excepted).
          if (path === '/openapi.json') continue;
          const ref = typeof schema.$ref === 'string' ? schema.$ref.split('/').pop() : undefined;
          const shown = ref ? doc.components.schemas[ref] : schema;
          expect(
            (shown?.examples as unknown[] | undefined)?.length,
            `${method} ${path} ${status}`,
          ).toBeGreaterThan(0);
        }
      }
    }
    const op = (p: string, m = 'get') =>
      doc.paths[p]?.[m]?.responses['200']?.content?.['application/json']?.schema;
    expect(op('/hitl/runs/{id}')).toEqual({ $ref: '#/components/schemas/RunView' });
    expect(op('/hitl/run/{id}/status')).toEqual({ $ref: '#/components/schemas/RunStatusView' });
    expect(JSON.stringify(op('/hitl/runs/{id}/events'))).toContain('#/components/schemas/EventRow');
    expect(JSON.stringify(op('/hitl/approvals/pending'))).toContain('#/components/schemas/ApprovalView');
    for (const name of ['RunView', 'RunStatusView', 'EventRow', 'ApprovalView']) {
      const component = doc.components.schemas[name] as { examples?: unknown[]; properties?: object };
      expect(component.properties, name).toBeDefined();
      expect(component.examples?.length, name).toBeGreaterThan(0);
    }
    // The examples are valid instances of the schemas they illustrate.
    RunView.parse((doc.components.schemas.RunView as { examples: unknown[] }).examples[0]);
    EventRow.parse((doc.components.schemas.EventRow as { examples: unknown[] }).examples[0]);
  });
});

describe('the API reference', () => {
  it('/openapi.json and /docs with its assets are public; /docs has its own CSP allowing only this origin', async () => {
    expect((await t.call('GET', '/openapi.json', { token: null })).status).toBe(200);
    const page = await t.app.request('/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const html = await page.text();
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    for (const file of ['swagger-ui.css', 'swagger-ui-bundle.js', 'docs.js', 'docs.css']) {
      const res = await t.app.request(`/docs/${file}`);
      expect(res.status, file).toBe(200);
      expect(html, file).toContain(`/docs/${file}`);
    }
    expect((await t.app.request('/docs/package.json')).status).toBe(404);
    expect((await t.app.request('/docs/a/b')).status).toBe(401);
  });
});
