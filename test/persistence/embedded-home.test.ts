import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { embeddedHome, STATE_ROOT } from '../../persistence/embedded-home.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('where the embedded cluster lives', () => {
  it('is the data dir for a service that does not run as root', () => {
    expect(embeddedHome({ dataDir: '/home/ann/hitl-runs/data', explicit: false, asRoot: false })).toBe(
      '/home/ann/hitl-runs/data',
    );
  });

  it('is HITL_DATA_DIR as it is when set, also as root', () => {
    expect(embeddedHome({ dataDir: '/srv/hitl', explicit: true, asRoot: true })).toBe('/srv/hitl');
  });

  it('as root with the default data dir, is one durable directory per checkout under /var/lib/hitl-runs', () => {
    const home = embeddedHome({ dataDir: '/root/hitl-runs/data', explicit: false, asRoot: true });
    expect(home).toMatch(new RegExp(`^${STATE_ROOT}/hitl-runs-[0-9a-f]{12}$`));
    // The same checkout finds the same cluster on every start; another checkout has its own.
    expect(embeddedHome({ dataDir: '/root/hitl-runs/data', explicit: false, asRoot: true })).toBe(home);
    expect(embeddedHome({ dataDir: '/root/other/hitl-runs/data', explicit: false, asRoot: true })).not.toBe(
      home,
    );
  });

  it('as root, keeps using a cluster already in ./data/pg', async () => {
    const checkout = await mkdtemp(join(tmpdir(), 'hitl-home-'));
    dirs.push(checkout);
    const dataDir = join(checkout, 'data');
    await mkdir(join(dataDir, 'pg'), { recursive: true });
    await writeFile(join(dataDir, 'pg', 'PG_VERSION'), '17\n');
    expect(embeddedHome({ dataDir, explicit: false, asRoot: true })).toBe(dataDir);
  });
});
