import { type FakeReplicate, startFakeReplicate } from '../../test/support/fake-replicate.ts';

const BENCH_OPENAPI = {
  components: {
    schemas: { Input: { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] } },
  },
};

/** The benchmarks' fake Replicate: every create answered already `succeeded` (as with `Prefer: wait`). */
export function startBenchFake(): Promise<FakeReplicate> {
  return startFakeReplicate({
    defaultOutcome: { kind: 'succeed', atCreate: true, output: 'ok' },
    // The model's openapi schema is looked up once per server and kept (as on Replicate).
    models: { 'bench/model': { latest_version: { id: 'v1', openapi_schema: BENCH_OPENAPI } } },
  });
}

/** The tool config of the benchmarks' runs (the fake's model). */
export const BENCH_TOOL = {
  'replicate-agent-tool': { data: { name: 'bench/model', example_input: { prompt: 'x' } } },
};
