import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Logger } from '../../actors/logger.ts';
import { createAuth } from '../../server/auth/auth.ts';
import { attachWebSocket, type WebSocketHub } from '../../server/ws/hub.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';
import { type FakeReplicate, startFakeReplicate } from '../support/fake-replicate.ts';
import { schemaFixture } from '../support/replicate-schemas.ts';
import { describeBrowser, openBrowser, SHOTS } from './browser.ts';
import {
  awaitEnd,
  awaitHuman,
  JWT_SECRET,
  listen,
  openApproval,
  SERVICE_KEY,
  type TestApp,
  testApp,
} from './support.ts';

/** The payload edited through the console's schema form, against the fake Replicate serving seedance. */

const SEEDANCE = schemaFixture('bytedance-seedance-1-pro');
const PROMPT = 'a paper boat drifting down a gutter in the rain';
const IMAGE = 'https://files.example.com/boat.png';
const silent: Logger = { info() {}, warn() {}, error() {} };

/** A tiny grey PNG, so the attachment previews as an image. */
function png(): Buffer {
  const { crc32 } = require('node:zlib') as typeof import('node:zlib');
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(96, 0);
  header.writeUInt32BE(64, 4);
  header.set([8, 0, 0, 0, 0], 8);
  const rows = Buffer.alloc(97 * 64);
  for (let y = 0; y < 64; y++) for (let x = 0; x < 96; x++) rows[y * 97 + 1 + x] = 60 + x + y;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describeBrowser('the console schema form in Chromium', () => {
  let db: TestDatabase;
  let fake: FakeReplicate;
  let t: TestApp;
  let server: Awaited<ReturnType<typeof listen>>;
  let hub: WebSocketHub;
  let browser: Awaited<ReturnType<typeof openBrowser>>;
  let page: Page;
  const item = (approvalId: string) => page.locator(`[data-approval-id="${approvalId}"]`);

  beforeAll(async () => {
    db = await createTestDatabase();
    fake = await startFakeReplicate({
      models: {
        [SEEDANCE.model]: { latest_version: { id: SEEDANCE.id, openapi_schema: SEEDANCE.openapi_schema } },
      },
    });
    t = testApp(db, { replicateUrl: fake.url });
    server = await listen(t.app);
    const auth = createAuth({ apiKeys: [SERVICE_KEY], jwtSecret: JWT_SECRET });
    hub = attachWebSocket(server.server, { host: t.host, approvals: t.approvals, auth, log: silent });
    browser = await openBrowser();
    page = browser.page;
    await page.route(IMAGE, (route) => route.fulfill({ status: 200, contentType: 'image/png', body: png() }));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    await server?.close();
    await t?.close();
    await fake?.close();
    await db?.drop();
  });

  it('shows the schema summary at information_review, then edits an enum through the form and Replicate receives it', async () => {
    const res = await t.call('POST', '/hitl/run', {
      body: {
        run_input: {
          prompt: PROMPT,
          attachments: [IMAGE],
          user_id: 'u1',
          agent_tool_config: { 'replicate-agent-tool': { data: { name: SEEDANCE.model } } },
        },
        hitl_config: { policy: 'require_human', allowed_steps: ['information_review', 'payload_review'] },
      },
    });
    expect(res.status).toBe(201);
    const runId = String(res.json.run_id);
    const info = openApproval(await awaitHuman(t, runId));
    expect(info.checkpoint_type).toBe('information_review');

    await page.goto(`${server.url}/console`);
    await page.getByLabel('Token (service key or reviewer JWT)').fill(SERVICE_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await item(info.approval_id).click();
    const summary = page.locator('#schema-summary');
    await summary.waitFor();
    const said = await summary.textContent();
    expect(said).toContain('Required fieldsprompt');
    expect(said).toContain('Media fieldsimage, last_frame_image');
    expect(said).toContain('Prompt goes toprompt');
    expect(said).toContain(`${IMAGE} → image`);
    expect(said).toContain('an integer from 3 to 12');
    await page.screenshot({ path: join(SHOTS, 'console-schema-summary.png'), fullPage: true });
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.locator('#activity li.ok', { hasText: 'approve on information_review' }).waitFor();

    const review = openApproval(await awaitHuman(t, runId));
    expect(review.checkpoint_type).toBe('payload_review');
    await item(review.approval_id).click();
    await page.getByRole('button', { name: 'Edit…' }).click();

    const form = page.locator('#schema-form');
    await form.waitFor();
    // Fields in x-order, descriptions as help text, a preview of the image attachment.
    expect(
      await form.locator('.form-field').evaluateAll((els) => els.map((e) => e.getAttribute('data-field'))),
    ).toEqual([
      'prompt',
      'image',
      'last_frame_image',
      'duration',
      'resolution',
      'aspect_ratio',
      'fps',
      'camera_fixed',
      'seed',
    ]);
    expect(await page.locator('#field-resolution-help').textContent()).toBe(
      'Video resolution. One of 480p, 720p, 1080p.',
    );
    await page.getByRole('img', { name: 'Preview of image' }).waitFor();
    expect(
      await page
        .getByRole('img', { name: 'Preview of image' })
        .evaluate((i) => (i as HTMLImageElement).naturalWidth),
    ).toBe(96);

    const send = page.getByRole('button', { name: 'Send edit' });
    expect(await send.isDisabled()).toBe(true); // nothing changed yet
    await page.getByLabel('resolution', { exact: true }).selectOption('720p');
    const duration = page.getByLabel('duration', { exact: true });
    expect([await duration.getAttribute('min'), await duration.getAttribute('max')]).toEqual(['3', '12']);
    await duration.fill('30');
    await page
      .locator('[data-field="duration"] .problem', { hasText: 'duration must be from 3 to 12.' })
      .waitFor();
    expect(await send.isDisabled()).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'console-schema-form-problem.png'), fullPage: true });
    await duration.fill('10');
    await page.getByRole('switch', { name: 'camera_fixed' }).check();
    expect(await send.isDisabled()).toBe(false);

    // The diff lists exactly what is sent.
    const diff = page.getByRole('table', { name: 'Changes before sending' });
    expect(
      await diff.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-field'))),
    ).toEqual(['resolution', 'duration', 'camera_fixed']);
    // The raw JSON stays available and shows the same payload; back to the form keeps it.
    await page.getByRole('button', { name: 'Edit as JSON' }).click();
    const sent = { prompt: PROMPT, image: IMAGE, duration: 10, resolution: '720p', camera_fixed: true };
    expect(JSON.parse(await page.getByLabel('Payload to send (JSON)').inputValue())).toEqual(sent);
    await page.getByRole('button', { name: 'Back to the form' }).click();
    expect(await page.getByLabel('resolution', { exact: true }).inputValue()).toBe('"720p"');
    await page.screenshot({ path: join(SHOTS, 'console-schema-form.png'), fullPage: true });
    await page.getByRole('button', { name: 'Send edit' }).click();

    await page.locator('#activity li.ok', { hasText: 'edit on payload_review' }).waitFor();
    expect((await awaitEnd(t, runId)).status).toBe('completed');
    expect(fake.received.creates.map((c) => [c.version, c.input])).toEqual([[SEEDANCE.id, sent]]);

    const shot = await readFile(join(SHOTS, 'console-schema-form.png'));
    expect(shot.length).toBeGreaterThan(10_000);
    expect(browser.problems).toEqual([]);
  }, 90_000);
});
