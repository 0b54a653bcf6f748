-- Durable work beside the wake-ups (issue 12): `step_retry` re-runs a provider step (capabilities,
-- payload) after its backoff; `cancel` cancels a prediction the run no longer waits for. Cancel
-- items are written by the commit that ends the wait and removed only by the node that did them.
alter table timers drop constraint timers_kind_check;
alter table timers add constraint timers_kind_check
  check (kind in ('deadline', 'poll', 'retry', 'approval_deadline', 'step_retry', 'cancel'));
