-- Cross-node fan-out without Redis (SPEC §8): a published message is stored here and its id is
-- sent with NOTIFY (payloads are capped near 8 KB); listeners read the row by id. Messages are
-- only kept for a few minutes (pruned by the nodes), so the table is unlogged: no WAL.
create unlogged table bus_messages (
  id bigserial primary key,
  channel text not null,
  message text not null,
  created_at timestamptz not null default now()
);
create index bus_messages_created_at on bus_messages (created_at);
