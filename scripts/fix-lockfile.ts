/**
 * `npm run fix-lockfile` (after `npm install`): the npm mirror this project is built from lacks
 * Biome's binaries for other platforms, so npm leaves them out of package-lock.json and then
 * `npm ci` refuses the lock as out of sync. This adds the missing optional, platform-restricted
 * entries (never installed on this platform), which is what npm would have written.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORMS: Record<string, { os: string; cpu: string; libc?: string }> = {
  'cli-win32-x64': { os: 'win32', cpu: 'x64' },
  'cli-win32-arm64': { os: 'win32', cpu: 'arm64' },
  'cli-darwin-x64': { os: 'darwin', cpu: 'x64' },
  'cli-darwin-arm64': { os: 'darwin', cpu: 'arm64' },
  'cli-linux-x64': { os: 'linux', cpu: 'x64' },
  'cli-linux-arm64': { os: 'linux', cpu: 'arm64' },
  'cli-linux-x64-musl': { os: 'linux', cpu: 'x64', libc: 'musl' },
  'cli-linux-arm64-musl': { os: 'linux', cpu: 'arm64', libc: 'musl' },
  'cli-android-x64': { os: 'android', cpu: 'x64' },
  'cli-android-arm64': { os: 'android', cpu: 'arm64' },
};

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8')) as { packages: Record<string, Record<string, unknown>> };
const biome = lock.packages['node_modules/@biomejs/biome'];
if (!biome) throw new Error('@biomejs/biome is not in package-lock.json');
let added = 0;
for (const [name, p] of Object.entries(PLATFORMS)) {
  const key = `node_modules/@biomejs/${name}`;
  if (lock.packages[key]) continue;
  lock.packages[key] = {
    version: biome.version,
    cpu: [p.cpu],
    dev: true,
    license: 'MIT OR Apache-2.0',
    optional: true,
    os: [p.os],
    ...(p.libc ? { libc: [p.libc] } : {}),
    engines: { node: '>=14.21.3' },
  };
  added++;
}
const sorted = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync(file, `${JSON.stringify({ ...lock, packages: sorted }, null, 2)}\n`);
console.log(`package-lock.json: added ${added} platform entries`);
