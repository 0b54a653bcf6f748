import type { Sql, TransactionSql } from 'postgres';
import { dehydrate, hasMarks, hydrate, refsIn } from './blobs.ts';
import type { Json, JsonInput } from './types.ts';

/** A row of `run_blobs` to write. */
export interface BlobRow {
  run_id: string;
  sha256: string;
  body: string;
}

/**
 * The blobs this store knows are committed, per run (`run_id/sha256`): a later commit of the run
 * references them without sending them again. Bounded; forgetting one only means sending it again
 * (`on conflict do nothing`).
 */
export function createBlobMemory(max = 20_000) {
  const known = new Set<string>();
  return {
    has: (runId: string, sha: string) => known.has(`${runId}/${sha}`),
    add(runId: string, shas: Iterable<string>): void {
      for (const sha of shas) {
        const k = `${runId}/${sha}`;
        known.delete(k);
        known.add(k);
      }
      for (const k of known) {
        if (known.size <= max) break;
        known.delete(k);
      }
    },
  };
}
export type BlobMemory = ReturnType<typeof createBlobMemory>;

/** One run's write: its values with long strings replaced, the blobs to insert, all it references. */
export class RunBlobs {
  readonly found = new Map<string, string>();
  constructor(
    readonly runId: string,
    private readonly memory: BlobMemory,
  ) {}
  /** `value` as stored (long strings replaced by references). */
  put<T>(value: T): T {
    return dehydrate(value, this.found) as T;
  }
  /** The blobs not yet known to be stored. */
  rows(): BlobRow[] {
    const out: BlobRow[] = [];
    for (const [sha, body] of this.found)
      if (!this.memory.has(this.runId, sha)) out.push({ run_id: this.runId, sha256: sha, body });
    return out;
  }
  /** After the commit: every blob of this write is stored. */
  committed(): void {
    if (this.found.size > 0) this.memory.add(this.runId, this.found.keys());
  }
}

/** Inserts blob rows inside a transaction (the single-commit paths). */
export async function insertBlobs(tx: TransactionSql, rows: BlobRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx`insert into run_blobs ${tx(rows)} on conflict do nothing`;
}

/**
 * Resolves the references in the given columns of rows read from Postgres (one query for all of
 * them, none when nothing is referenced). A reference without its blob is a broken record: throws.
 */
export async function hydrateRows<R extends { run_id: string }>(
  sql: Sql | TransactionSql,
  rows: R[],
  columns: ReadonlyArray<keyof R>,
): Promise<R[]> {
  const need: Array<[R, keyof R]> = [];
  const ids = new Set<string>();
  const shas = new Set<string>();
  for (const r of rows) {
    for (const c of columns) {
      if (!hasMarks(r[c])) continue;
      need.push([r, c]);
      ids.add(String(r.run_id));
      refsIn(r[c], shas);
    }
  }
  if (need.length === 0) return rows;
  const found =
    shas.size === 0
      ? []
      : await sql<BlobRow[]>`
          select run_id::text as run_id, sha256, body from run_blobs
           where run_id = any(${[...ids]}::uuid[]) and sha256 = any(${[...shas]}::text[])`;
  const bodies = new Map(found.map((b) => [`${b.run_id}/${b.sha256}`, b.body]));
  for (const [r, c] of need) {
    const runId = String(r.run_id);
    r[c] = hydrate(r[c], (sha) => {
      const body = bodies.get(`${runId}/${sha}`);
      if (body === undefined) throw new Error(`run ${runId}: stored blob ${sha} is missing`);
      return body;
    }) as R[keyof R];
  }
  return rows;
}

/**
 * A value's long strings as references to the run's stored blobs (`RunStore.messageRefs`): null
 * when they hold fewer than `minChars` characters in all (the value is cheaper sent whole).
 */
export function packRefs(value: JsonInput, minChars: number): JsonInput | null {
  const found = new Map<string, string>();
  const packed = dehydrate(value, found) as JsonInput;
  let chars = 0;
  for (const body of found.values()) chars += body.length;
  return chars >= minChars ? packed : null;
}

/** Resolves a packed value's references from `run_blobs` (one query); null when one is missing. */
export async function unpackRefs(sql: Sql, runId: string, value: Json): Promise<Json | null> {
  const shas = new Set<string>();
  refsIn(value, shas);
  const found =
    shas.size === 0
      ? []
      : await sql<Pick<BlobRow, 'sha256' | 'body'>[]>`
          select sha256, body from run_blobs where run_id = ${runId}::uuid and sha256 = any(${[...shas]}::text[])`;
  const bodies = new Map(found.map((b) => [b.sha256, b.body]));
  if (bodies.size < shas.size) return null;
  return hydrate(value, (sha) => bodies.get(sha) ?? '') as Json;
}
