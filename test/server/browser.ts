import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { describe } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Screenshots of browser tests go here (git-ignored). */
export const SHOTS = fileURLToPath(new URL('../../test-results/', import.meta.url));

const hasChromium = existsSync(CHROMIUM);
/** `describe`, or `describe.skip` (saying why) where Chromium is not installed. */
export function describeBrowser(name: string, body: () => void): void {
  if (!hasChromium) console.log(`skipped "${name}": ${CHROMIUM} not found (apt-get install chromium)`);
  (hasChromium ? describe : describe.skip)(name, body);
}

/** A fresh Chromium profile; `problems` collects page errors and CSP refusals. */
export async function openBrowser(viewport = { width: 1280, height: 900 }): Promise<{
  page: Page;
  problems: string[];
  offsite: string[];
  close(): Promise<void>;
}> {
  const profile = await mkdtemp(join(tmpdir(), 'hitl-chromium-'));
  const browser: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport,
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const problems: string[] = [];
  const offsite: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  // Offline: anything not on loopback is refused (and remembered), as on a machine without internet.
  await browser.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => {
    offsite.push(route.request().url());
    return route.abort('internetdisconnected');
  });
  await mkdir(SHOTS, { recursive: true });
  return {
    page,
    problems,
    offsite,
    async close() {
      await browser.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
