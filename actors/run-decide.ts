import { openApproval } from '../machines/run-context.ts';
import type { RunEvent } from '../machines/run-events.ts';
import type { DecisionAction } from '../machines/schemas.ts';
import { isRecord } from '../machines/values.ts';
import { redact } from './redact.ts';
import type { LoadedRun, Stamp } from './run-core.ts';
import type { RunWorker } from './run-worker.ts';

/** What every review event carries besides its stamp (machines/run-events.ts). */
type DecisionFields = Omit<Extract<RunEvent, { type: 'review.approve' }>, 'type' | keyof Stamp>;

/** A reviewer's or service's decision as received at the edge (`on_behalf_of`: a service key's
 *  `approved_by`). */
export type DecisionRequest = DecisionFields & { action: DecisionAction; edits?: Record<string, unknown> };

/**
 * Build the machine event for a decision. Edits that need the provider (new capabilities after an
 * information edit; re-validation of an edited payload) are computed here, at the edge, so the
 * machine stays pure and replay never calls a provider.
 */
export async function decisionEvent(
  run: LoadedRun,
  req: DecisionRequest,
  stamp: Stamp,
  worker: RunWorker,
): Promise<RunEvent> {
  const ctx = run.snapshot.context;
  const base = {
    ...stamp,
    approval_id: req.approval_id,
    ...(req.reason !== undefined ? { reason: req.reason } : {}),
    ...(req.on_behalf_of !== undefined ? { on_behalf_of: req.on_behalf_of } : {}),
    ...(req.client_timestamp !== undefined ? { client_timestamp: req.client_timestamp } : {}),
  };
  const open = openApproval(ctx);
  const checkpoint = open && open.approval_id === req.approval_id ? open.checkpoint_type : null;
  // SPEC §7: a secret in edits is redacted before anything is built or stored, at every checkpoint.
  const edits = req.edits ? redact(req.edits) : undefined;
  const provider = () => worker.providerOf(run.snapshot);

  const rebuilt = (payloadEdits: unknown) => {
    if (!isRecord(payloadEdits) || !ctx.capabilities) return undefined;
    const merged = { ...(ctx.payload ?? {}), ...payloadEdits };
    const built = provider().validatePayload(ctx.request, ctx.capabilities, merged);
    return { payload: built.payload, issues: built.issues, changed_fields: built.changed_fields };
  };

  switch (req.action) {
    case 'approve':
      return { type: 'review.approve', ...base };
    case 'reject':
      return { type: 'review.reject', ...base };
    case 'retry': {
      const built = edits ? rebuilt(edits.payload) : undefined;
      return { type: 'review.retry', ...base, ...(edits ? { edits } : {}), ...(built ? { built } : {}) };
    }
    case 'edit': {
      const e = edits ?? {};
      if (checkpoint === 'information_review' && onlyKeys(e, ['prompt', 'model_config'])) {
        const prompt = typeof e.prompt === 'string' ? e.prompt : ctx.request.prompt;
        const model_config = isRecord(e.model_config)
          ? { ...ctx.request.model_config, ...e.model_config }
          : ctx.request.model_config;
        const report = await provider().capabilities({ ...ctx.request, prompt, model_config });
        return { type: 'review.edit', ...base, edits: e, report };
      }
      if (checkpoint === 'payload_review' || checkpoint === 'error_recovery') {
        const built = rebuilt(e.payload);
        return { type: 'review.edit', ...base, edits: e, ...(built ? { built } : {}) };
      }
      return { type: 'review.edit', ...base, edits: e };
    }
  }
}

function onlyKeys(o: Record<string, unknown>, keys: string[]): boolean {
  const k = Object.keys(o);
  return k.length > 0 && k.every((x) => keys.includes(x));
}
