import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, openBrowser, SHOTS } from './browser.ts';
import { listen, type TestApp, withTestApp } from './support.ts';

let t: TestApp;
withTestApp((app) => {
  t = app;
});

describeBrowser('the API reference (/docs) in Chromium, offline', () => {
  let server: Awaited<ReturnType<typeof listen>>;
  let browser: Awaited<ReturnType<typeof openBrowser>>;

  beforeAll(async () => {
    server = await listen(t.app);
    browser = await openBrowser({ width: 1280, height: 1000 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('renders every route of /openapi.json and the view schemas, loading nothing from elsewhere, without a token', async () => {
    const { page } = browser;
    await page.goto(`${server.url}/docs`);
    await page.locator('.opblock-summary-path', { hasText: '/hitl/runs/{id}' }).first().waitFor();
    const paths = await page.locator('.opblock-summary-path').allTextContents();
    const documented = Object.keys(
      (await t.call('GET', '/openapi.json', { token: null })).json.paths as object,
    );
    for (const p of documented) expect(paths.map((x) => x.replace(/\u200b/g, ''))).toContain(p);

    await page
      .locator('.opblock-summary-path', { hasText: /^\/hitl\/runs\/\{id\}$/ })
      .first()
      .click();
    await page.getByText('Example Value').first().waitFor();
    expect(await page.locator('.opblock.is-open').textContent()).toContain('awaiting_human');
    const schemas = (await page.locator('section.models').textContent()) ?? '';
    for (const name of ['RunView', 'RunStatusView', 'ApprovalView', 'EventRow'])
      expect(schemas).toContain(name);
    await page.screenshot({ path: join(SHOTS, 'docs.png') });
    expect(browser.problems).toEqual([]);
    expect(browser.offsite).toEqual([]);
  }, 60_000);
});
