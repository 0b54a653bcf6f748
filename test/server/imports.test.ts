import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
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

// Static imports and re-exports (also multi-line and `import type`), side-effect imports, and
// dynamic `import('…')` with a literal specifier.
const SPECIFIERS = [
  /^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm,
  /^\s*import\s*['"]([^'"]+)['"]/gm,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
];

/** What a file imports: `layer:<top folder>` for a relative path, else the package name. */
function importsOf(file: string, text: string): string[] {
  const found = new Set<string>();
  for (const pattern of SPECIFIERS) {
    for (const match of text.matchAll(pattern)) {
      const spec = match[1] ?? '';
      if (spec.startsWith('.')) {
        const top = normalize(join(dirname(file), spec)).split(sep)[0] ?? '';
        found.add(`layer:${top}`);
      } else {
        // `@scope/name/sub` → `@scope/name`; `name/sub` → `name`; `node:fs` stays as it is.
        const parts = spec.split('/');
        found.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec));
      }
    }
  }
  return [...found];
}

/** Every `file → import` of `dir`'s files that `allowed` refuses. */
async function offenders(dir: string, allowed: (target: string, file: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for (const file of await tsFiles(dir)) {
    const text = await readFile(file, 'utf8');
    for (const target of importsOf(file, text)) if (!allowed(target, file)) out.push(`${file} → ${target}`);
  }
  return out.sort();
}

describe('server/ dependency direction (STYLE)', () => {
  it('never imports persistence/, except the composition root server/main.ts', async () => {
    const found = await offenders(
      'server',
      (target, file) => target !== 'layer:persistence' || file === join('server', 'main.ts'),
    );
    expect(found).toEqual([]);
  });
});

describe('layer rules (STYLE: every import points down)', () => {
  it('machines/ imports only xstate, zod and machines/', async () => {
    const found = await offenders('machines', (t) => t === 'xstate' || t === 'zod' || t === 'layer:machines');
    expect(found).toEqual([]);
  });

  it('persistence/ imports no actors/ or server/', async () => {
    const found = await offenders('persistence', (t) => t !== 'layer:actors' && t !== 'layer:server');
    expect(found).toEqual([]);
  });

  it('actors/ imports no server/', async () => {
    const found = await offenders('actors', (t) => t !== 'layer:server');
    expect(found).toEqual([]);
  });

  it('no source layer imports scripts/ or test/', async () => {
    const layers = ['machines', 'persistence', 'actors', 'server'];
    const found = (
      await Promise.all(layers.map((l) => offenders(l, (t) => t !== 'layer:scripts' && t !== 'layer:test')))
    ).flat();
    expect(found).toEqual([]);
  });

  it('reads every kind of import, so a broken rule cannot hide', () => {
    const text = [
      "import type { A } from '../../server/a.ts';",
      'import {\n  b,\n  c,\n} from "../../actors/b.ts";',
      "export { d } from './d.ts';",
      "import '../../persistence/e.ts';",
      "const f = await import('node:fs');",
      "import { g } from '@hono/zod-openapi/h';",
    ].join('\n');
    expect(importsOf(join('machines', 'sub', 'x.ts'), text).sort()).toEqual(
      [
        '@hono/zod-openapi',
        'layer:actors',
        'layer:machines',
        'layer:persistence',
        'layer:server',
        'node:fs',
      ].sort(),
    );
  });

  it('never handles a store error: none leaves actors/ (they arrive as HitlError)', async () => {
    const offenders: string[] = [];
    for (const file of await tsFiles('server')) {
      if (/StoreError/.test(await readFile(file, 'utf8'))) offenders.push(file);
    }
    expect(offenders).toEqual([]);
  });
});
