-- The record of hitl-runs (SPEC §8). Runs on PostgreSQL 15 and 17.
-- Times are timestamptz; every row written by the service carries millisecond-precision times.

create table runs (
  run_id        uuid primary key,
  seq           integer not null check (seq >= 0),
  status        text not null,
  current_step  text not null,
  user_id       text,
  session_id    text,
  created_by    text not null,
  envelope      jsonb not null,
  view          jsonb not null,
  -- Whether a node has in-process work for this run; with an expired lease it is recovered.
  work_pending  boolean not null default false,
  owner         text,
  lease_until   timestamptz,
  created_at    timestamptz not null,
  updated_at    timestamptz not null
);

-- Listing is newest first with (created_at, run_id) as the keyset.
create index runs_created_at_idx on runs (created_at desc, run_id desc);
create index runs_user_id_idx on runs (user_id, created_at desc, run_id desc);
create index runs_session_id_idx on runs (session_id, created_at desc, run_id desc);
create index runs_status_idx on runs (status, created_at desc, run_id desc);
-- Lease recovery only ever looks at runs that still have work to do.
create index runs_lease_recovery_idx on runs (lease_until) where work_pending;

create table run_events (
  run_id      uuid not null references runs (run_id) on delete cascade,
  seq         integer not null check (seq >= 1),
  type        text not null,
  step        text not null,
  status      text not null,
  actor       text not null,
  message     text not null,
  payload     jsonb not null default '{}'::jsonb,
  derived     boolean not null default false,
  created_at  timestamptz not null,
  -- The final guard against two writers appending the same seq.
  primary key (run_id, seq)
);

create table approvals (
  approval_id      uuid primary key,
  -- Null for standalone approvals; for those it is only a link, so no foreign key.
  run_id           uuid,
  status           text not null,
  checkpoint_type  text not null,
  user_id          text,
  session_id       text,
  created_by       text,
  created_at       timestamptz not null,
  expires_at       timestamptz not null,
  approval         jsonb not null,
  -- Standalone approvals only: their own machine snapshot.
  envelope         jsonb,
  version          integer not null default 0
);

create index approvals_status_created_idx on approvals (status, created_at desc, approval_id desc);
create index approvals_run_id_idx on approvals (run_id);
create index approvals_user_id_idx on approvals (user_id);
create index approvals_session_id_idx on approvals (session_id);

create table timers (
  id             bigint generated always as identity primary key,
  -- The run_id, or the approval_id of a standalone approval: what the timer belongs to.
  owner_id       uuid not null,
  run_id         uuid,
  kind           text not null check (kind in ('deadline', 'poll', 'retry', 'approval_deadline')),
  key            text not null,
  fire_at        timestamptz not null,
  claimed_by     text,
  claimed_until  timestamptz,
  attempts       integer not null default 0,
  unique (owner_id, kind, key)
);

create index timers_fire_at_idx on timers (fire_at);

create table idempotency_keys (
  key_id      text not null,
  key         text not null,
  body_hash   text not null,
  status      integer not null,
  response    jsonb not null,
  created_at  timestamptz not null default now(),
  primary key (key_id, key)
);

-- Records older than 24 h count as absent and are deleted from time to time.
create index idempotency_keys_created_at_idx on idempotency_keys (created_at);

create table webhook_ids (
  id       text primary key,
  seen_at  timestamptz not null default now()
);

create index webhook_ids_seen_at_idx on webhook_ids (seen_at);
