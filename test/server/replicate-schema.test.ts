import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { type FakeReplicate, startFakeReplicate } from '../support/fake-replicate.ts';
import { schemaFixture } from '../support/replicate-schemas.ts';
import { awaitEnd, awaitHuman, codeOf, openApproval, type TestApp, testApp } from './support.ts';

/** The model's published input schema drives every review, over HTTP, against the fake Replicate. */

const SEEDANCE = schemaFixture('bytedance-seedance-1-pro');
const PROMPT = 'a paper boat drifting down a gutter in the rain';
const IMAGE = 'https://files.example.com/boat.jpg';

let db: TestDatabase;
let fake: FakeReplicate;
let t: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  fake = await startFakeReplicate({
    models: {
      [SEEDANCE.model]: { latest_version: { id: SEEDANCE.id, openapi_schema: SEEDANCE.openapi_schema } },
    },
  });
  t = testApp(db, { replicateUrl: fake.url });
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await t.close();
  await fake.close();
  await db.drop();
});

async function startRun(hitl_config: Record<string, unknown>) {
  const res = await t.call('POST', '/hitl/run', {
    body: {
      run_input: {
        prompt: PROMPT,
        attachments: [IMAGE],
        user_id: 'u1',
        agent_tool_config: { 'replicate-agent-tool': { data: { name: SEEDANCE.model } } },
      },
      hitl_config,
    },
  });
  if (res.status !== 201) throw new Error(`${res.status} ${res.text}`);
  return String(res.json.run_id);
}

async function decide(runId: string, view: Record<string, unknown>, body: Record<string, unknown>) {
  return t.call('POST', `/hitl/run/${runId}/approve`, {
    body: { approval_id: openApproval(view).approval_id, ...body },
  });
}

const OUT_OF_RANGE = { resolution: '4k', duration: 30 };
const RANGE_ERRORS = [
  expect.objectContaining({
    field: 'duration',
    severity: 'error',
    suggested_fix: 'Set duration to an integer from 3 to 12',
  }),
  expect.objectContaining({
    field: 'resolution',
    severity: 'error',
    suggested_fix: 'Set resolution to one of 480p, 720p, 1080p',
  }),
];

describe("a Replicate run checked against the model's published schema", () => {
  it('shows the schema summary at information_review, before the payload is built', async () => {
    const id = await startRun({ policy: 'require_human', allowed_steps: ['information_review'] });
    const info = await awaitHuman(t, id);
    const context = openApproval(info).context as { capabilities: Record<string, unknown> };
    expect(context.capabilities.schema_summary).toMatchObject({
      source: 'openapi_schema',
      required: ['prompt'],
      media_fields: ['image', 'last_frame_image'],
      prompt_field: 'prompt',
      attachments: [{ index: 0, from: 'attachments', field: 'image' }],
      constraints: {
        duration: 'an integer from 3 to 12',
        resolution: 'one of 480p, 720p, 1080p',
        fps: 'exactly 24',
        last_frame_image: 'an http(s) URL or a data: URI or null',
      },
    });
    expect((await decide(id, info, { action: 'reject' })).status).toBe(200);
  });

  it('keeps an out-of-range edit at payload_review, and sends a valid edit exactly', async () => {
    const id = await startRun({ policy: 'require_human', allowed_steps: ['payload_review'] });
    const first = await awaitHuman(t, id);
    expect(first.suggested_payload).toEqual({ prompt: PROMPT, image: IMAGE });
    expect((await decide(id, first, { action: 'edit', edits: { payload: OUT_OF_RANGE } })).status).toBe(200);

    const second = await awaitHuman(t, id);
    const approval = openApproval(second);
    expect(approval.approval_id).not.toBe(openApproval(first).approval_id);
    expect(approval).toMatchObject({ checkpoint_type: 'payload_review', actions: ['edit', 'reject'] });
    expect((approval.context as { issues: unknown[] }).issues).toEqual(RANGE_ERRORS);
    const approve = await decide(id, second, { action: 'approve' });
    expect([approve.status, codeOf(approve.json)]).toEqual([422, 'invalid_action']);
    expect(fake.received.creates).toEqual([]);

    const valid = { resolution: '720p', duration: 10 };
    expect((await decide(id, second, { action: 'edit', edits: { payload: valid } })).status).toBe(200);
    expect((await awaitEnd(t, id)).status).toBe('completed');
    expect(fake.received.creates.map((c) => [c.version, c.input])).toEqual([
      [SEEDANCE.id, { prompt: PROMPT, image: IMAGE, ...valid }],
    ]);
  });

  it('keeps an out-of-range edit at error_recovery, then submits the fixed payload', async () => {
    fake.script({ kind: 'http', status: 422, body: { title: 'Invalid input', detail: 'bad', status: 422 } });
    const id = await startRun({ policy: 'auto' });
    const recovery = await awaitHuman(t, id);
    expect(openApproval(recovery).checkpoint_type).toBe('error_recovery');
    await decide(id, recovery, { action: 'edit', edits: { payload: OUT_OF_RANGE } });

    const again = await awaitHuman(t, id);
    expect(openApproval(again)).toMatchObject({ checkpoint_type: 'error_recovery' });
    expect(openApproval(again).approval_id).not.toBe(openApproval(recovery).approval_id);
    expect((openApproval(again).context as { issues: unknown[] }).issues).toEqual(RANGE_ERRORS);
    expect(fake.received.creates).toHaveLength(1);

    await decide(id, again, { action: 'edit', edits: { payload: { resolution: '480p', duration: 3 } } });
    expect((await awaitEnd(t, id)).status).toBe('completed');
    expect(fake.received.creates[1]?.input).toEqual({
      prompt: PROMPT,
      image: IMAGE,
      resolution: '480p',
      duration: 3,
    });
  });

  it('refuses a retry at response_review whose edited payload is out of range, listing the errors', async () => {
    const id = await startRun({ policy: 'require_human', allowed_steps: ['response_review'] });
    const review = await awaitHuman(t, id);
    const refused = await decide(id, review, { action: 'retry', edits: { payload: OUT_OF_RANGE } });
    expect([refused.status, codeOf(refused.json)]).toEqual([422, 'invalid_edits']);
    const message = String((refused.json.error as { message: string }).message);
    expect(message).toContain('duration is 30: it must be an integer from 3 to 12');
    expect(message).toContain('resolution is "4k": it must be one of 480p, 720p, 1080p');
    expect(fake.received.creates).toHaveLength(1);

    expect((await decide(id, review, { action: 'retry', edits: { payload: { duration: 6 } } })).status).toBe(
      200,
    );
    const second = await awaitHuman(t, id);
    expect(openApproval(second).checkpoint_type).toBe('response_review');
    expect(fake.received.creates.map((c) => c.input)).toEqual([
      { prompt: PROMPT, image: IMAGE },
      { prompt: PROMPT, image: IMAGE, duration: 6 },
    ]);
  });
});
