import type { Fragment, Sql } from 'postgres';
import { isUuid } from '../machines/ids.ts';
import { type Page, StoreError } from './types.ts';

/** The keyset position of a page: the last item's created_at and id. */
export interface CursorKey {
  created_at: string;
  id: string;
}

/** Opaque base64url cursor over (created_at, id), newest first. */
export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.created_at, key.id])).toString('base64url');
}

/** Decodes a cursor made by `encodeCursor`; anything else is `StoreError('invalid_cursor')`. */
export function decodeCursor(cursor: string): CursorKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 2 &&
    typeof parsed[0] === 'string' &&
    typeof parsed[1] === 'string' &&
    !Number.isNaN(Date.parse(parsed[0])) &&
    isUuid(parsed[1])
  ) {
    return { created_at: parsed[0], id: parsed[1] };
  }
  throw new StoreError('invalid_cursor', 'cursor is not one this service issued');
}

/** What `keysetPage` lists: `from` is `<table> <alias>`, `id` the alias's key column (a uuid). */
export interface KeysetQuery<R> {
  table: 'runs' | 'approvals';
  alias: string;
  id: Extract<keyof R, string>;
  columns: Fragment;
  where: Fragment;
}

/**
 * One page of the rows matching `q.where`, newest first, after the cursor `after`, with the count
 * of all of them. Reads `limit + 1` rows: the extra one says whether there is a next page.
 */
export async function keysetPage<R extends { created_at: Date }, T>(
  sql: Sql,
  q: KeysetQuery<R>,
  page: { limit: number; after: CursorKey | null },
  map: (r: R) => T,
  /** Run on the page's rows before `map` (e.g. resolving their `run_blobs` references). */
  prepare?: (rows: R[]) => Promise<unknown>,
): Promise<Page<T>> {
  const from = sql`${sql(q.table)} ${sql(q.alias)}`;
  const createdAt = sql(`${q.alias}.created_at`);
  const id = sql(`${q.alias}.${q.id}`);
  const { limit, after } = page;
  const keyset =
    after === null
      ? sql``
      : sql`and (${createdAt}, ${id}) < (${after.created_at}::timestamptz, ${after.id}::uuid)`;
  const [counted, rows] = await Promise.all([
    sql<{ total: number }[]>`select count(*)::int as total from ${from} where ${q.where}`,
    sql<R[]>`
      select ${q.columns} from ${from}
       where ${q.where} ${keyset}
       order by ${createdAt} desc, ${id} desc
       limit ${limit + 1}
    `,
  ]);
  const items = rows.slice(0, limit);
  if (prepare) await prepare(items);
  const last = items[items.length - 1];
  const next_cursor =
    rows.length > limit && last !== undefined
      ? encodeCursor({ created_at: last.created_at.toISOString(), id: String(last[q.id]) })
      : null;
  return { items: items.map(map), total: counted[0]?.total ?? 0, next_cursor };
}
