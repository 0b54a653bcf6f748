import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Logger } from '../../actors/logger.ts';
import { createAuth } from '../../server/auth/auth.ts';
import { attachWebSocket, type WebSocketHub } from '../../server/ws/hub.ts';
import { describeBrowser, openBrowser, SHOTS } from './browser.ts';
import {
  awaitEnd,
  awaitHuman,
  createEchoRun,
  JWT_SECRET,
  listen,
  OTHER_KEY,
  openApproval,
  reviewerToken,
  SERVICE_ACTOR,
  SERVICE_KEY,
  type TestApp,
  withTestApp,
} from './support.ts';

let t: TestApp;
withTestApp((app) => {
  t = app;
});
const silent: Logger = { info() {}, warn() {}, error() {} };

/** A small RGB PNG (a gradient), so a "model output" renders as a real image. */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      rows.set([230 - y, 90 + x, 40 + ((x + y) >> 1)], row + 1 + x * 3);
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describeBrowser('the web console in Chromium', () => {
  const auth = createAuth({ apiKeys: [SERVICE_KEY, OTHER_KEY], jwtSecret: JWT_SECRET });
  let server: Awaited<ReturnType<typeof listen>>;
  let hub: WebSocketHub;
  let browser: Awaited<ReturnType<typeof openBrowser>>;
  let page: Page;

  const item = (approvalId: string) => page.locator(`[data-approval-id="${approvalId}"]`);
  const attach = () =>
    attachWebSocket(server.server, { host: t.host, approvals: t.approvals, auth, log: silent });
  const requireHuman = (step: string, extra: Record<string, unknown> = {}) => ({
    policy: 'require_human',
    allowed_steps: [step],
    ...extra,
  });

  beforeAll(async () => {
    server = await listen(t.app);
    hub = attach();
    browser = await openBrowser();
    page = browser.page;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    await server?.close();
  });

  let first: string;
  let firstRun: string;

  it('signs in with the service key, keeps the token out of the URL and lists the pending approvals', async () => {
    firstRun = await createEchoRun(t, requireHuman('payload_review'));
    first = openApproval(await awaitHuman(t, firstRun)).approval_id;

    await page.goto(`${server.url}/console`);
    await page.getByLabel('Token (service key or reviewer JWT)').fill(SERVICE_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await item(first).waitFor();
    await expect(item(first).textContent()).resolves.toContain('payload_review');
    await expect(item(first).textContent()).resolves.toContain('user u1 · s1');
    await expect(item(first).textContent()).resolves.toMatch(/expires in \d+:\d\d|expires in 1 h/);
    expect(page.url()).toBe(`${server.url}/console`);
    expect(await page.evaluate(() => sessionStorage.getItem('hitl-console-token'))).toBe(SERVICE_KEY);
    expect(await page.getByLabel('Token (service key or reviewer JWT)').inputValue()).toBe('');
    expect(await page.locator('#connection').textContent()).toBe('Connected');
  }, 60_000);

  it('refuses to send an edit that is not valid JSON or changes nothing; sends a valid one', async () => {
    const view = await t.call('GET', `/hitl/runs/${firstRun}`);
    const payload = view.json.suggested_payload as Record<string, unknown>;

    await item(first).click();
    await page.getByRole('table', { name: 'Payload to send' }).waitFor();
    expect(await page.locator('#detail-body').textContent()).toContain('a red fox in the snow');
    const actions = page.getByRole('group', { name: 'Actions', exact: true }).getByRole('button');
    expect(await actions.allTextContents()).toEqual(['Approve', 'Edit…', 'Reject…']);

    await page.getByRole('button', { name: 'Edit…' }).click();
    const editor = page.getByLabel('Payload to send (JSON)');
    expect(JSON.parse(await editor.inputValue())).toEqual(payload);
    const send = page.getByRole('button', { name: 'Send edit' });
    expect(await send.isDisabled()).toBe(true); // no change yet

    await editor.fill('{ "prompt": ');
    await expect(page.locator('#edits-error').textContent()).resolves.toMatch(/^Not valid JSON/);
    expect(await send.isDisabled()).toBe(true);
    expect((await t.call('GET', `/hitl/runs/${firstRun}`)).json.status).toBe('awaiting_human');

    const edited = { ...payload, prompt: 'a blue fox on the beach' };
    await editor.fill(JSON.stringify(edited, null, 2));
    await send.click();

    const ack = page.locator('#activity li.ok', { hasText: 'edit on payload_review' });
    await ack.waitFor();
    expect(await ack.textContent()).toContain('success');
    await item(first).waitFor({ state: 'detached' });

    const done = await awaitEnd(t, firstRun);
    expect(done.status).toBe('completed');
    expect(done.final_result).toEqual(edited);
  }, 60_000);

  it('drops an approval decided elsewhere (hitl_approval_resolved) and says who decided', async () => {
    const runId = await createEchoRun(t, requireHuman('payload_review'));
    const other = openApproval(await awaitHuman(t, runId)).approval_id;
    await item(other).waitFor(); // pushed: hitl_approval_request

    const res = await t.call('POST', `/hitl/approvals/${other}/respond`, { body: { action: 'reject' } });
    expect(res.status).toBe(200);

    await item(other).waitFor({ state: 'detached' });
    const note = page.locator('#activity li', { hasText: `run ${runId.slice(0, 8)} was rejected` });
    await note.waitFor();
    // Readable actor names: `service:<id>` shows as `<id> (service)`.
    expect(await note.textContent()).toContain(`by ${SERVICE_ACTOR.replace('service:', '')} (service)`);
  }, 60_000);

  it('reconnects after the server closes the socket (1001) and lists what it missed', async () => {
    await hub.close(1001);
    await page.locator('#connection', { hasText: 'reconnecting' }).waitFor();
    const runId = await createEchoRun(t, requireHuman('payload_review'));
    const missed = openApproval(await awaitHuman(t, runId)).approval_id;
    hub = attach();

    await item(missed).waitFor({ timeout: 20_000 });
    expect(await page.locator('#connection').textContent()).toBe('Connected');
  }, 60_000);

  it('shows the error of a decision that came too late (approval_not_pending)', async () => {
    // The run goes on to another checkpoint, so the late decision meets a live run.
    const runId = await createEchoRun(t, {
      policy: 'require_human',
      allowed_steps: ['payload_review', 'response_review'],
    });
    const stale = openApproval(await awaitHuman(t, runId)).approval_id;
    // This tab never hears that another screen decided first: its resolved frame is held back.
    await page.routeWebSocket(/\/ws\?/, (ws) => {
      const upstream = ws.connectToServer();
      ws.onMessage((m) => upstream.send(m));
      upstream.onMessage((m) => {
        const frame = JSON.parse(String(m)) as { type: string; data?: { approval_id?: string } };
        if (frame.type !== 'hitl_approval_resolved' || frame.data?.approval_id !== stale) ws.send(m);
      });
    });
    await page.reload(); // signs in again from sessionStorage, through the route
    await item(stale).click();
    await page.getByRole('button', { name: 'Approve' }).waitFor();

    const res = await t.call('POST', `/hitl/approvals/${stale}/respond`, { body: { action: 'approve' } });
    expect(res.status).toBe(200);
    const next = openApproval(await awaitHuman(t, runId));
    expect(next.checkpoint_type).toBe('response_review');
    await item(next.approval_id).waitFor();
    await page.getByRole('button', { name: 'Approve' }).click();

    const failure = page.locator('#activity li.fail', { hasText: 'approve on payload_review' });
    await failure.waitFor();
    expect(await failure.textContent()).toContain('approval_not_pending');
    await item(stale).waitFor({ state: 'detached' });
    expect(await page.locator('#detail-body').textContent()).toContain('approval_not_pending');
  }, 60_000);

  it('signs out, refuses a token the server refuses, and signs in as a reviewer with a JWT', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    const token = page.getByLabel('Token (service key or reviewer JWT)');
    await token.waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('hitl-console-token'))).toBeNull();
    expect(await page.locator('#activity li').count()).toBe(0);

    await token.fill('not-a-key-of-this-server');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'The server refused this token.' }).waitFor();
    expect(await page.locator('#workspace').isHidden()).toBe(true);

    const pending = (await t.call('GET', '/hitl/approvals/pending?user_id=u1')).json.approvals as Array<{
      approval_id: string;
    }>;
    expect(pending.length).toBeGreaterThan(0);
    await token.fill(await reviewerToken('u1'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Signed in as reviewer u1 (reviewer)').waitFor();
    for (const a of pending) await item(a.approval_id).waitFor();
  }, 60_000);

  it('renders output media, says when they may have expired, and looks right (screenshot)', async () => {
    const image = 'https://replicate.delivery/pbxt/fox/output.png';
    const gone = 'https://replicate.delivery/pbxt/fox/expired.webp';
    await page.route('https://replicate.delivery/**', (route) =>
      route.request().url() === image
        ? route.fulfill({ status: 200, contentType: 'image/png', body: png(160, 120) })
        : route.fulfill({ status: 404, body: 'gone' }),
    );
    const runId = await createEchoRun(t, requireHuman('response_review', { timeout_seconds: 86_400 }), {
      prompt: 'a fox, two takes',
      attachments: [image, gone],
    });
    const approval = openApproval(await awaitHuman(t, runId));
    expect(approval.checkpoint_type).toBe('response_review');

    await item(approval.approval_id).click();
    await page.getByRole('img', { name: 'Output image 1' }).waitFor();
    const second = page.locator('figure', { has: page.locator('img[alt="Output image 2"]') });
    await second.getByText('Could not load this file; it may have expired.').waitFor();
    const notice = page.getByText(
      'Replicate deletes outputs after about an hour; this media may have expired',
    );
    expect(await notice.isVisible()).toBe(false);
    expect(await page.getByRole('group', { name: 'Actions' }).getByRole('button').allTextContents()).toEqual([
      'Approve',
      'Edit…',
      'Retry',
      'Reject…',
    ]);

    // Two hours later (the page's clock only), the same output comes with the notice.
    await page.clock.setFixedTime(Date.now() + 2 * 3600_000);
    await notice.waitFor();
    expect(await page.locator('.notice').textContent()).toMatch(/completed 2 h 0\d min ago/);

    const file = join(SHOTS, 'console-media.png');
    await page.screenshot({ path: file, fullPage: true });
    const shot = await readFile(file);
    expect(shot.length).toBeGreaterThan(10_000);
    expect([...shot.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(browser.problems).toEqual([]);
  }, 60_000);
});
