/**
 * `tsx scripts/bench/profile-top.ts FILE.cpuprofile [N] [--owners]`: self time by function, top N;
 * with `--owners`, the busy time by owning module instead (`cpuprofile-owners.ts`).
 */
import { readFileSync } from 'node:fs';
import { type CpuProfile, cpuOwners } from './cpuprofile-owners.ts';

const args = process.argv.slice(2);
const owners = args.includes('--owners');
const [file, count] = args.filter((a) => a !== '--owners');
if (!file) throw new Error('usage: profile-top FILE.cpuprofile [N] [--owners]');
const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const limit = Number(count ?? 30);
if (owners) {
  for (const [k, share] of cpuOwners(prof).slice(0, limit))
    console.log(`${(100 * share).toFixed(1).padStart(5)} %  ${k}`);
} else {
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const n = byId.get(id);
    const dt = prof.timeDeltas[i] ?? 0;
    total += dt;
    if (!n) return;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(actors|server|persistence|machines)\//, '$1/')}:${(f.lineNumber ?? 0) + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit);
  for (const [k, v] of top) console.log(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
}
