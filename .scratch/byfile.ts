import { readFileSync } from 'node:fs';
const [file, mode] = process.argv.slice(2);
const prof = JSON.parse(readFileSync(file!, 'utf8'));
const byId = new Map<number, any>(prof.nodes.map((n: any) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const ours = (u: string) => /\/work\/main\/(actors|server|persistence|machines)\//.test(u) && !u.includes('node_modules');
const short = (n: any) => n.callFrame.url.replace(/^.*node_modules\//, 'nm:').replace(/^file:\/\/\/work\/main\//, '').replace(/\/dist\/.*$/, '') ;
const agg = new Map<string, number>(); let tot = 0;
prof.samples.forEach((id: number, i: number) => {
  const dt = prof.timeDeltas[i] ?? 0;
  const n0 = byId.get(id);
  if (n0.callFrame.functionName === '(idle)') return;
  tot += dt;
  let key = 'other:' + (short(n0) || n0.callFrame.functionName);
  let p: number | undefined = id;
  const chain: any[] = [];
  while (p !== undefined) { chain.push(byId.get(p)); p = parent.get(p); }
  const hit = mode === 'outer' ? [...chain].reverse().find((n) => ours(n.callFrame.url)) : chain.find((n) => ours(n.callFrame.url));
  if (hit) key = short(hit) + (mode === 'fn' ? ' ' + hit.callFrame.functionName : '');
  agg.set(key, (agg.get(key) ?? 0) + dt);
});
console.log('non-idle', (tot / 1e6).toFixed(1), 's');
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 45)) console.log(((100 * v) / tot).toFixed(1).padStart(5), '%', k);
