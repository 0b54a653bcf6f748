import { describe, expect, it } from 'vitest';
import { codeOf, reviewerToken, runAtPayloadReview, type TestApp, withTestApp } from '../server/support.ts';

/** SPEC §7: a decision whose answer was lost can be retried safely. */

let t: TestApp;
withTestApp((app) => {
  t = app;
});

describe('a retried decision', () => {
  it('with the same Idempotency-Key gets the original answer back, once applied', async () => {
    const { id, approvalId } = await runAtPayloadReview(t);
    const send = () =>
      t.call('POST', `/hitl/run/${id}/approve`, {
        body: { approval_id: approvalId, action: 'approve' },
        headers: { 'idempotency-key': `decide-${approvalId}` },
      });
    const first = await send();
    expect(first.status, first.text).toBe(200);
    const retry = await send();
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.json).toEqual(first.json);
    const events = await t.call('GET', `/hitl/runs/${id}/events?limit=1000`);
    const approvals = (events.json.events as Array<{ type: string }>).filter(
      (e) => e.type === 'review.approve',
    );
    expect(approvals).toHaveLength(1);
  });

  it('by a reviewer on /hitl/approvals/{id}/respond with the same key replays too', async () => {
    const { approvalId } = await runAtPayloadReview(t);
    const token = await reviewerToken('u1', []);
    const send = () =>
      t.call('POST', `/hitl/approvals/${approvalId}/respond`, {
        body: { action: 'reject', reason: 'no' },
        token,
        headers: { 'idempotency-key': 'k-1' },
      });
    const first = await send();
    expect(first.status, first.text).toBe(200);
    const retry = await send();
    expect([retry.status, retry.headers.get('idempotent-replayed')]).toEqual([200, 'true']);
    expect(retry.json).toEqual(first.json);
  });

  it('without a key, the 409 approval_not_pending carries the decision that closed it', async () => {
    // The run goes on to another checkpoint, so the approval is closed while the run is not.
    const { id, approvalId } = await runAtPayloadReview(t, {
      policy: 'require_human',
      allowed_steps: ['payload_review', 'response_review'],
    });
    const token = await reviewerToken('u1', []);
    const body = { approval_id: approvalId, action: 'approve' };
    expect((await t.call('POST', `/hitl/run/${id}/approve`, { body, token })).status).toBe(200);
    for (const retry of [
      await t.call('POST', `/hitl/run/${id}/approve`, { body, token }),
      await t.call('POST', `/hitl/approvals/${approvalId}/respond`, { body: { action: 'reject' } }),
    ]) {
      expect([retry.status, codeOf(retry.json)]).toEqual([409, 'approval_not_pending']);
      const details = (retry.json.error as { details: Record<string, unknown> }).details;
      expect(details).toMatchObject({
        approval_id: approvalId,
        status: 'approved',
        decision: { action: 'approve', actor: 'user:u1', decided_at: expect.any(String) },
      });
    }
  });

  it("a decision that ended its run: the retry's 409 run_terminal carries the decision too", async () => {
    const { id, approvalId } = await runAtPayloadReview(t);
    const token = await reviewerToken('u1', []);
    const body = { approval_id: approvalId, action: 'approve' };
    expect((await t.call('POST', `/hitl/run/${id}/approve`, { body, token })).status).toBe(200);
    await t.call('GET', `/hitl/runs/${id}?wait_for=terminal&timeout=10`);
    for (const retry of [
      await t.call('POST', `/hitl/run/${id}/approve`, { body, token }),
      await t.call('POST', `/hitl/approvals/${approvalId}/respond`, { body: { action: 'reject' } }),
    ]) {
      expect([retry.status, codeOf(retry.json)]).toEqual([409, 'run_terminal']);
      const details = (retry.json.error as { details: Record<string, unknown> }).details;
      expect(details).toMatchObject({
        approval_id: approvalId,
        status: 'approved',
        decision: { action: 'approve', actor: 'user:u1', decided_at: expect.any(String) },
      });
    }
  });
});
