/**
 * `perf script -F ip,sym -i perf.data | tsx scripts/bench/perf-owners.ts [N]`: the on-CPU samples
 * of a Node process (recorded with `perf record -g` while it ran with `--perf-basic-prof`) by
 * owner: each sample goes to the module of its innermost JavaScript frame (a package, a file of
 * ours, a Node built-in module), or, with none on its stack, to GC, the kernel or the native
 * function it was in. Then each module's inclusive share (any frame of it on the stack).
 */
import { readFileSync } from 'node:fs';

/** The module a perf symbol belongs to, or null when it is not a JavaScript frame with a file. */
export function moduleOf(sym: string): string | null {
  const m = /^JS:[*^~]?\S* (\S+)/.exec(sym);
  if (!m?.[1]) return null;
  const file = m[1];
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return `pkg:${pkg[1]}`;
  if (file.startsWith('node:')) return `node:${file.slice(5).replace(/:\d+:\d+$/, '')}`;
  const ours =
    /^(?:file:\/\/)?\/.*?\/((?:actors|machines|persistence|server|scripts|migrations)\/[^:]+)/.exec(file);
  if (ours) return `ours:${ours[1]}`;
  return `other:${file.replace(/:\d+:\d+$/, '')}`;
}

/** What a sample with no JavaScript frame on its stack was doing, from its leaf symbol. */
function nativeOwner(leaf: string): string {
  if (/Scaveng|MarkCompact|Heap::|GC|Sweep|Marking|Evacuat/.test(leaf)) return 'native:gc';
  if (leaf === '[unknown]' || leaf === '') return 'native:unknown';
  if (/^(entry_SYSCALL|do_|__x64|tcp_|__sys|ep_|sock|_raw|finish_task|schedule|native_|exit_to)/.test(leaf))
    return 'kernel';
  return `native:${leaf.slice(0, 60)}`;
}

/** Owner and inclusive counts of `perf script -F ip,sym` text (samples separated by blank lines). */
export function perfOwners(text: string): {
  samples: number;
  own: Map<string, number>;
  incl: Map<string, number>;
} {
  const own = new Map<string, number>();
  const incl = new Map<string, number>();
  let samples = 0;
  for (const block of text.split(/\n\s*\n/)) {
    const syms = block
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .map((l) => {
        const space = l.indexOf(' ');
        return space < 0 ? '' : l.slice(space + 1);
      });
    if (syms.length === 0) continue;
    samples++;
    const mods = syms.map(moduleOf);
    const owner = mods.find((m) => m !== null) ?? nativeOwner(syms[0] ?? '');
    own.set(owner, (own.get(owner) ?? 0) + 1);
    for (const m of new Set(mods)) if (m !== null) incl.set(m, (incl.get(m) ?? 0) + 1);
  }
  return { samples, own, incl };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const top = Number(process.argv[2] ?? 40);
  const { samples, own, incl } = perfOwners(readFileSync(0, 'utf8'));
  const print = (title: string, counts: Map<string, number>) => {
    console.log(title);
    for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`${((100 * v) / samples).toFixed(1).padStart(5)} %  ${k}`);
  };
  console.log(`${samples} samples`);
  print('by owner (the innermost JavaScript frame):', own);
  print('inclusive (any frame on the stack):', incl);
}
