/**
 * A V8 CPU profile (`--cpu-prof`, `npm run bench -- e2e --profile DIR`) by owner: each sample's time
 * goes to the module of the nearest frame, from the leaf up, that has a package or a file of ours
 * (so a socket write counts for whoever wrote it); samples with neither on their stack go to their
 * leaf's pseudo-function (`(garbage collector)`, `(program)`) or to `node` (Node's own code).
 * `(idle)` is left out of the shares. Used by `tsx scripts/bench/profile-top.ts FILE --owners`.
 */

export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber?: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

/** The owner of a frame's file: `pkg:<name>`, `ours:<dir>/<file>`, or null for Node's own or none. */
export function ownerOfUrl(url: string): string | null {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `pkg:${pkg[1]}`;
  const ours = /^file:\/\/\/.*?\/((?:actors|machines|persistence|server|scripts)\/.+)$/.exec(url);
  return ours ? `ours:${ours[1]}` : null;
}

/** Share (0–1) of the busy time (all but `(idle)`) by owner, largest first. */
export function cpuOwners(profile: CpuProfile): [string, number][] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, string>();
  const ownerOf = (leaf: number): string => {
    const known = memo.get(leaf);
    if (known) return known;
    let owner: string | null = null;
    for (let id: number | undefined = leaf; id !== undefined && owner === null; id = parent.get(id)) {
      owner = ownerOfUrl(byId.get(id)?.callFrame.url ?? '');
    }
    const name = byId.get(leaf)?.callFrame.functionName ?? '';
    const out = owner ?? (name.startsWith('(') ? name : 'node');
    memo.set(leaf, out);
    return out;
  };
  const time = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const owner = ownerOf(id);
    if (owner === '(idle)') return;
    const dt = profile.timeDeltas[i] ?? 0;
    busy += dt;
    time.set(owner, (time.get(owner) ?? 0) + dt);
  });
  return [...time.entries()]
    .map(([k, t]): [string, number] => [k, busy > 0 ? t / busy : 0])
    .sort((a, b) => b[1] - a[1]);
}
