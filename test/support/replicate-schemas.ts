import { readFileSync } from 'node:fs';

/** A published Replicate version as stored in `test/fixtures/replicate/` (see each file's `x-fixture`). */
export interface SchemaFixture {
  model: string;
  id: string;
  openapi_schema: Record<string, unknown>;
}

/** Load `test/fixtures/replicate/<name>.json`. */
export function schemaFixture(
  name: 'stability-ai-sdxl' | 'bytedance-seedance-1-pro' | 'openai-gpt-4o',
): SchemaFixture {
  const url = new URL(`../fixtures/replicate/${name}.json`, import.meta.url);
  const json = JSON.parse(readFileSync(url, 'utf8')) as SchemaFixture & { 'x-fixture': { model: string } };
  return { model: json['x-fixture'].model, id: json.id, openapi_schema: json.openapi_schema };
}
