/**
 * Draws every machine of DIAGRAM_SOURCES into visualizations/ as Mermaid (`npm run diagrams`).
 * With `--check` it writes nothing and exits 1 when a generated file is missing or out of date.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DIAGRAM_SOURCES,
  diagramFiles,
  loadMachine,
  readmeWithDiagram,
  staleFiles,
} from './diagram-files.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(root, 'visualizations');
const check = process.argv.includes('--check');

const files = new Map<string, string>();
for (const source of DIAGRAM_SOURCES) {
  const machine = await loadMachine(root, source);
  if (!machine) {
    // Lets the script run while a machine is still being written; it is drawn once its file exists.
    console.log(`note: ${source.module} not found, skipping ${source.name}`);
    continue;
  }
  for (const [name, content] of diagramFiles(source, machine)) files.set(name, content);
}

const stale = await staleFiles(outDir, files);
// The README shows the run machine too, in a block kept in step with the generated file.
const readmePath = join(root, 'README.md');
const readme = await readFile(readmePath, 'utf8').catch(() => '');
const runMermaid = files.get('run-machine.mmd');
const readmeNext = runMermaid ? readmeWithDiagram(readme, runMermaid) : readme;
if (readmeNext !== readme) stale.push('../README.md');
if (check) {
  if (stale.length > 0) {
    console.error(`diagrams out of date: ${stale.map((n) => `visualizations/${n}`).join(', ')}`);
    console.error('run npm run diagrams');
    process.exit(1);
  }
  console.log(`diagrams up to date (${files.size} files)`);
} else {
  await mkdir(outDir, { recursive: true });
  for (const name of stale) {
    await writeFile(join(outDir, name), name === '../README.md' ? readmeNext : (files.get(name) ?? ''));
    console.log(`wrote visualizations/${name}`);
  }
  if (stale.length === 0) console.log(`diagrams already up to date (${files.size} files)`);
}
