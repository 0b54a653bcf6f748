import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

async function tsFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((e) =>
      e.isDirectory()
        ? tsFiles(join(dir, e.name))
        : Promise.resolve(e.name.endsWith('.ts') ? [join(dir, e.name)] : []),
    ),
  );
  return nested.flat();
}

describe('server/ dependency direction (STYLE)', () => {
  it('never imports persistence/, except the composition root server/main.ts', async () => {
    const offenders: string[] = [];
    for (const file of await tsFiles('server')) {
      if (file === join('server', 'main.ts')) continue;
      const text = await readFile(file, 'utf8');
      if (/from ['"](\.\.\/)+persistence\//.test(text)) offenders.push(file);
    }
    expect(offenders).toEqual([]);
  });

  it('never handles a store error: none leaves actors/ (they arrive as HitlError)', async () => {
    const offenders: string[] = [];
    for (const file of await tsFiles('server')) {
      if (/StoreError/.test(await readFile(file, 'utf8'))) offenders.push(file);
    }
    expect(offenders).toEqual([]);
  });
});
