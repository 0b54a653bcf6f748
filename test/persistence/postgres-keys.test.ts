import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../persistence/postgres.ts';
import type { IdempotencyRecord } from '../../persistence/types.ts';
import { storeOnTestDatabase } from '../support/db.ts';

const t = storeOnTestDatabase();

const record = (key: string, overrides: Partial<IdempotencyRecord> = {}): IdempotencyRecord => ({
  key_id: 'service:0123abcd',
  key,
  body_hash: 'hash-1',
  status: 201,
  response: { run_id: randomUUID(), nested: { ok: true } },
  created_at: new Date().toISOString(),
  ...overrides,
});

describe('idempotency keys', () => {
  it('stores a record once and reads it back', async () => {
    const rec = record(randomUUID());
    expect(await t.store.putIdempotency(rec)).toBe(true);
    expect(await t.store.putIdempotency({ ...rec, body_hash: 'other' })).toBe(false);
    expect(await t.store.getIdempotency(rec.key_id, rec.key)).toEqual(rec);
    expect(await t.store.getIdempotency('service:ffffffff', rec.key)).toBeNull();
  });

  it('treats records older than 24 h as absent', async () => {
    const rec = record(randomUUID(), { created_at: new Date(Date.now() - 25 * 3_600_000).toISOString() });
    expect(await t.store.putIdempotency(rec)).toBe(true);
    expect(await t.store.getIdempotency(rec.key_id, rec.key)).toBeNull();
    const fresh = record(rec.key, { body_hash: 'hash-2' });
    expect(await t.store.putIdempotency(fresh)).toBe(true);
    expect(await t.store.getIdempotency(rec.key_id, rec.key)).toMatchObject({ body_hash: 'hash-2' });
  });
});

describe('webhook ids', () => {
  it('says true only the first time an id is seen, also under concurrency', async () => {
    const id = `msg_${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 10 }, () => t.store.rememberWebhook(id)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await t.store.rememberWebhook(id)).toBe(false);
    expect(await t.store.rememberWebhook(`msg_${randomUUID()}`)).toBe(true);
  });

  it('prunes ids older than a day', async () => {
    await t.db.sql`insert into webhook_ids (id, seen_at) values ('ancient', now() - interval '2 days')`;
    // A fresh store prunes on its first write.
    const fresh = createPostgresStore(t.db.sql);
    await fresh.rememberWebhook(`msg_${randomUUID()}`);
    expect(await t.db.sql`select id from webhook_ids where id = 'ancient'`).toHaveLength(0);
  });
});

describe('ping', () => {
  it('answers when Postgres does', async () => {
    await expect(t.store.ping()).resolves.toBeUndefined();
  });
});
