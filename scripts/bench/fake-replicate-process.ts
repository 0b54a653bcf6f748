/**
 * The bench's fake Replicate in a process of its own (its CPU is not counted as the host's);
 * prints `listening on <url>`, stops on SIGTERM.
 */
import { startBenchFake } from './fake.ts';

const fake = await startBenchFake();
console.log(`listening on ${fake.url}`);
process.on('SIGTERM', () => void fake.close().then(() => process.exit(0)));
