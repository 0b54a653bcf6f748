-- The commit's cost in Postgres (issue 7). Events and blobs are only ever written by the batch
-- statement for runs its guarded insert or update just returned, and runs are never deleted, so
-- the foreign keys only re-checked a row the same statement had written, at one trigger call (a
-- lookup and a row lock) per event, about a tenth of the statement's time. They go.
alter table run_events drop constraint if exists run_events_run_id_fkey;
alter table run_blobs drop constraint if exists run_blobs_run_id_fkey;
-- A run's envelope and view (4-8 kB of JSON on every commit) are stored as json, the text as the
-- service wrote it: Postgres only checks it, where jsonb parsed it into a tree first (the larger
-- part of a commit's time in Postgres: 3 ms of a 4.5 ms insert of 7 runs, 1.5-2 ms as json). No
-- query looks into them; the service reads them back whole. (Rewrites the table once.)
alter table runs alter column envelope type json using envelope::json,
                 alter column view type json using view::json;
-- Both are compressed with lz4 where the server has it (pglz, the default, costs several times the
-- CPU); a server built without lz4 keeps pglz.
do $$
begin
  alter table runs alter column envelope set compression lz4, alter column view set compression lz4;
exception when feature_not_supported or invalid_parameter_value then
  null;
end
$$;
