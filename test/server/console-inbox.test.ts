import { join } from 'node:path';
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
  SERVICE_KEY,
  type TestApp,
  withTestApp,
} from './support.ts';

let t: TestApp;
withTestApp((app) => {
  t = app;
});
const silent: Logger = { info() {}, warn() {}, error() {} };
const REVIEW = { policy: 'require_human', allowed_steps: ['payload_review'] };

describeBrowser('the console as an inbox, in Chromium', () => {
  let server: Awaited<ReturnType<typeof listen>>;
  let hub: WebSocketHub;
  let browser: Awaited<ReturnType<typeof openBrowser>>;
  let page: Page;
  const runs: Record<string, { id: string; approval: string }> = {};

  const row = (approvalId: string) => page.locator(`[data-approval-id="${approvalId}"]`);
  const rows = () => page.locator('#pending-list .approval-item');
  const shot = (name: string) =>
    page.screenshot({ path: join(SHOTS, `console-${name}.png`), fullPage: true });

  beforeAll(async () => {
    server = await listen(t.app);
    const auth = createAuth({ apiKeys: [SERVICE_KEY, OTHER_KEY], jwtSecret: JWT_SECRET });
    hub = attachWebSocket(server.server, { host: t.host, approvals: t.approvals, auth, log: silent });
    browser = await openBrowser({ width: 1400, height: 1000 });
    page = browser.page;
    for (const [name, input] of Object.entries({
      fox: { prompt: 'a red fox in the snow, watercolour', user_id: 'alice', session_id: 'chat-fox' },
      lighthouse: { prompt: 'a lighthouse at dusk, oil painting', user_id: 'bob', session_id: 'chat-sea' },
      report: {
        prompt: 'summarise the quarterly report in three bullets',
        user_id: 'carol',
        session_id: 'chat-q3',
      },
    })) {
      const id = await createEchoRun(
        t,
        { ...REVIEW, timeout_seconds: 1800 + Object.keys(runs).length * 600 },
        input,
      );
      runs[name] = { id, approval: openApproval(await awaitHuman(t, id)).approval_id };
    }
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    await server?.close();
  });

  it('lists three runs by their summaries (prompt, model, cost, checkpoint, user, age, time left), soonest expiry first', async () => {
    await page.goto(`${server.url}/console`);
    await page.getByLabel('Token (service key or reviewer JWT)').fill(SERVICE_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    for (const r of Object.values(runs)) await row(r.approval).waitFor();

    const texts = await rows().allTextContents();
    expect(texts).toHaveLength(3);
    expect(texts[0]).toContain('a red fox in the snow, watercolour');
    expect(texts[0]).toMatch(/payload_review · echo · \$0/);
    expect(texts[0]).toMatch(/user alice · chat-fox · \d+ s old · expires in \d+:\d\d/);
    expect(texts[1]).toContain('a lighthouse at dusk');
    expect(texts[2]).toContain('summarise the quarterly report');
    await shot('inbox');
  }, 60_000);

  it('filters by user and session, and sorts by newest', async () => {
    await page.getByLabel('User').fill('bob');
    await expect
      .poll(() => rows().allTextContents())
      .toEqual([expect.stringContaining('a lighthouse at dusk')]);
    expect(await page.locator('#pending-count').textContent()).toBe('1 of 3');
    await shot('filter');
    await page.getByLabel('User').fill('');
    await page.getByLabel('Session').fill('chat-q3');
    await expect.poll(() => rows().count()).toBe(1);
    await page.getByLabel('Session').fill('');
    await page.getByLabel('Sort').selectOption('newest');
    await expect.poll(async () => (await rows().first().textContent()) ?? '').toContain('quarterly report');
    await page.getByLabel('Sort').selectOption('expires');
    await expect.poll(() => rows().count()).toBe(3);
  }, 60_000);

  it('shows the original input beside the payload; an edit shows its field diff before it is sent; the model receives exactly that payload', async () => {
    await page.locator('#pending-title').click(); // out of the filter fields
    await page.keyboard.press('j'); // keyboard: first row (the fox)
    await page.getByRole('table', { name: 'Payload to send' }).waitFor();
    await page.getByRole('table', { name: 'Original input' }).waitFor();
    expect(await page.getByRole('table', { name: 'Original input' }).textContent()).toContain('chat-fox');
    expect(await page.getByRole('table', { name: 'Payload to send' }).textContent()).toContain(
      'a red fox in the snow, watercolour',
    );

    await page.keyboard.press('e');
    const editor = page.getByLabel('Payload to send (JSON)');
    await editor.waitFor();
    // In edit mode only Send / Cancel are offered.
    expect(await page.getByRole('group', { name: 'Actions', exact: true }).count()).toBe(0);
    const payload = JSON.parse(await editor.inputValue()) as Record<string, unknown>;
    const edited = { ...payload, prompt: 'a blue fox on the beach, watercolour' };
    await editor.fill(JSON.stringify(edited, null, 2));
    const diff = page.getByRole('table', { name: 'Changes before sending' });
    await diff.waitFor();
    expect(await diff.locator('tbody tr').count()).toBe(1);
    expect(await diff.locator('tr[data-field="prompt"] del').textContent()).toBe(
      'a red fox in the snow, watercolour',
    );
    expect(await diff.locator('tr[data-field="prompt"] ins').textContent()).toBe(
      'a blue fox on the beach, watercolour',
    );
    // Nothing was sent yet.
    expect((await t.call('GET', `/hitl/runs/${runs.fox?.id}`)).json.status).toBe('awaiting_human');
    await shot('edit-diff');

    await page.getByRole('button', { name: 'Send edit' }).click();
    await page.getByRole('heading', { name: 'Decided: edit' }).waitFor();
    expect(await page.getByRole('table', { name: 'Decided payload' }).textContent()).toContain(
      'a blue fox on the beach, watercolour',
    );
    await row(runs.fox?.approval ?? '').waitFor({ state: 'detached' });
    const done = await awaitEnd(t, runs.fox?.id ?? '');
    expect(done.status).toBe('completed');
    // echo returns the payload it was sent, verbatim: the model got exactly the reviewed edit.
    expect(done.final_result).toEqual(edited);
    await shot('decided');
  }, 60_000);

  it('asks for confirmation before a reject (r), and a reject ends the run', async () => {
    await row(runs.lighthouse?.approval ?? '').click();
    await page.getByRole('table', { name: 'Payload to send' }).waitFor();
    await page.locator('#pending-title').click();
    await page.keyboard.press('r');
    const confirm = page.getByRole('button', { name: 'Reject and end the run' });
    await confirm.waitFor();
    expect(await page.getByRole('alert').filter({ hasText: 'Reject ends this run' }).count()).toBe(1);
    await shot('reject-confirm');
    await page.getByRole('button', { name: 'Keep reviewing' }).click();
    await page.getByRole('button', { name: 'Reject…' }).click();
    expect((await t.call('GET', `/hitl/runs/${runs.lighthouse?.id}`)).json.status).toBe('awaiting_human');
    await confirm.click();
    await page.getByRole('heading', { name: 'Decided: reject' }).waitFor();
    const done = await awaitEnd(t, runs.lighthouse?.id ?? '');
    expect(done.status).toBe('cancelled');
  }, 60_000);

  it('shows the statechart of a waiting run with its current state highlighted', async () => {
    await row(runs.report?.approval ?? '').click();
    const chart = page.getByRole('img', {
      name: /Run statechart, current state payload_review\.awaitingReview/,
    });
    await chart.waitFor();
    expect(
      await page.locator('svg.statechart [data-state="payload_review"]').getAttribute('class'),
    ).toContain('active');
    expect(
      await page.locator('svg.statechart [data-state="payload_review.awaitingReview"]').getAttribute('class'),
    ).toContain('active');
    expect(
      await page.locator('svg.statechart [data-state="information_review"]').getAttribute('class'),
    ).toContain('visited');
    await page.locator('.chart-box').scrollIntoViewIfNeeded();
    await shot('statechart');
  }, 60_000);

  it('shows decided approvals and finished runs in the history, with the final result and the timeline', async () => {
    await page.getByRole('button', { name: 'History' }).click();
    const decided = page.getByRole('list', { name: 'Decided approvals' });
    await decided.waitFor();
    const items = await decided.getByRole('button').allTextContents();
    expect(items.some((s) => s.includes('edited') && s.includes('a red fox in the snow'))).toBe(true);
    expect(items.some((s) => s.includes('rejected') && s.includes('a lighthouse at dusk'))).toBe(true);
    const finished = await page
      .getByRole('list', { name: 'Finished runs' })
      .getByRole('button')
      .allTextContents();
    expect(finished).toHaveLength(2);

    await page.locator(`.history-item[data-run-id="${runs.fox?.id}"]`).first().click();
    const timeline = page.getByRole('list', { name: 'Event timeline' });
    await timeline.waitFor();
    const types = await timeline
      .locator('li')
      .evaluateAll((lis) => lis.map((li) => li.getAttribute('data-type')));
    expect(types).toEqual(
      expect.arrayContaining(['run.created', 'review.edit', 'prediction.succeeded', 'run.completed']),
    );
    const edit = await timeline.locator('li[data-type="review.edit"]').textContent();
    expect(edit).toContain('edit at payload_review');
    expect(await page.locator('#detail-body').textContent()).toContain(
      'a blue fox on the beach, watercolour',
    );
    await page.getByRole('img', { name: /current state completed/ }).waitFor();
    await shot('history');
    expect(browser.problems).toEqual([]);
    expect(browser.offsite).toEqual([]);
  }, 60_000);
});
