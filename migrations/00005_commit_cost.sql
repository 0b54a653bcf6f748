-- The commit's cost in Postgres (issue 7). Events and blobs are only ever written by the batch
-- statement for runs its guarded insert or update just returned, and runs are never deleted, so
-- the foreign keys only re-checked a row the same statement had written, at one trigger call (a
-- lookup and a row lock) per event, about a tenth of the statement's time. They go.
alter table run_events drop constraint if exists run_events_run_id_fkey;
alter table run_blobs drop constraint if exists run_blobs_run_id_fkey;
-- A run's envelope and view (4-8 kB of JSON each commit) are compressed with lz4 where the server
-- has it (pglz, the default, costs several times the CPU); a server built without lz4 keeps pglz.
do $$
begin
  alter table runs alter column envelope set compression lz4, alter column view set compression lz4;
exception when feature_not_supported or invalid_parameter_value then
  null;
end
$$;
