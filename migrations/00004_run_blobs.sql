-- Long strings stored once per run (issue 7, write volume follows the change): a run's snapshot,
-- view and events reference a long string (a large prompt, a long provider answer) by its sha-256
-- instead of repeating it, so a commit writes the change, not the input again. Written in the
-- commit that first references it; read back with the rows that reference it.
create table run_blobs (
  run_id  uuid not null references runs (run_id) on delete cascade,
  sha256  text not null,
  body    text not null,
  primary key (run_id, sha256)
);
