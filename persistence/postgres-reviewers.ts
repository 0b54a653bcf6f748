import type { Fragment, Sql } from 'postgres';

/**
 * SQL true when the reviewer may decide approval `a` (SPEC §7): its sub is in
 * `reviewers.user_ids` or one of its roles is in `reviewers.roles`. Callers skip it for `admin`.
 */
export function reviewerMayDecide(sql: Sql, reviewer: { sub: string; roles: string[] }): Fragment {
  return sql`(
    coalesce(a.approval -> 'reviewers' -> 'user_ids', '[]'::jsonb) ? ${reviewer.sub}
    or coalesce(a.approval -> 'reviewers' -> 'roles', '[]'::jsonb) ?| ${reviewer.roles}::text[]
  )`;
}
