import { readFileSync } from 'node:fs';
const [file, target, depthArg] = process.argv.slice(2);
const prof = JSON.parse(readFileSync(file!, 'utf8'));
const byId = new Map<number, any>(prof.nodes.map((n: any) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfT = new Map<number, number>();
prof.samples.forEach((id: number, i: number) => selfT.set(id, (selfT.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const label = (n: any) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(actors|server|persistence|machines|scripts)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
const depth = Number(depthArg ?? 6);
const agg = new Map<string, number>();
let tot = 0;
for (const [id, t] of selfT) {
  const n = byId.get(id);
  if (n.callFrame.functionName !== target) continue;
  tot += t;
  const chain: string[] = [];
  let p = parent.get(id);
  while (p !== undefined && chain.length < depth) { chain.push(label(byId.get(p))); p = parent.get(p); }
  const k = chain.join(' < ');
  agg.set(k, (agg.get(k) ?? 0) + t);
}
console.log('total', (tot/1000).toFixed(0), 'ms');
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(((100 * v) / tot).toFixed(1).padStart(5), '%', k);
