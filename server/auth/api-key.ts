import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The service key used when `HITL_API_KEYS` is empty (SPEC §7): read from `<dataDir>/api-key`,
 * or made once and written there with mode 0600. `created` says whether it is new.
 */
export async function localApiKey(dataDir: string): Promise<{ key: string; file: string; created: boolean }> {
  const file = join(dataDir, 'api-key');
  await mkdir(dataDir, { recursive: true });
  const existing = await readFile(file, 'utf8').then(
    (s) => s.trim(),
    () => '',
  );
  if (existing) return { key: existing, file, created: false };
  const key = `hitl_${randomBytes(24).toString('base64url')}`;
  try {
    // `wx`: if another process made it in the meantime, theirs wins.
    await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  } catch {
    return { key: (await readFile(file, 'utf8')).trim(), file, created: false };
  }
  return { key, file, created: true };
}

/** Loopback addresses: the only ones allowed with a generated key. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
