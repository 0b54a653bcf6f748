import { z } from 'zod';
import { HitlConfig, RunStatus, Step } from '../machines/schemas.ts';
import { ApprovalView, CONFIG_EXAMPLE, EventRow, RunStatusView, RunView } from '../machines/view-schemas.ts';

/**
 * Response schemas, for the OpenAPI document: the run view, status, event row and approval are
 * the zod types the runtime's read side is typed with (machines/view-schemas.ts).
 */

export { ApprovalView, EventRow, RunStatusView, RunView };

const Json = z.record(z.string(), z.unknown());
export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  detail: z.string(),
});
/** The first example a schema carries (the view schemas have one each). */
const exampleOf = (schema: z.ZodType): unknown => (schema.meta()?.examples as unknown[] | undefined)?.[0];
const RUN_ID = '69e67806-fd67-4283-a986-f600765f15fb';
const APPROVAL_ID = 'a809dbb2-0552-43e7-b263-36ee7657807d';

export const RunCreatedResponse = z
  .object({
    run_id: z.string(),
    status: RunStatus,
    current_step: Step,
    message: z.string(),
    hitl_config: HitlConfig,
    websocket_url: z.string(),
    events_url: z.string(),
    hitl_enabled: z.boolean().optional(),
    config: HitlConfig.optional(),
  })
  .meta({
    examples: [
      {
        run_id: RUN_ID,
        status: 'queued',
        current_step: 'created',
        message: 'Run created with policy require_human',
        hitl_config: CONFIG_EXAMPLE,
        websocket_url: 'ws://127.0.0.1:8080/ws',
        events_url: `http://127.0.0.1:8080/hitl/runs/${RUN_ID}/events`,
      },
    ],
  });
/** Kept for the routes' imports: the status of a run is `RunStatusView`. */
export const RunStatusResponse = RunStatusView;
export const ControlResponse = z
  .object({
    success: z.literal(true),
    run_id: z.string().nullable(),
    status: z.string(),
    current_step: z.string().nullable(),
  })
  .meta({ examples: [{ success: true, run_id: RUN_ID, status: 'paused', current_step: 'api_call' }] });
export const DecisionResponse = ControlResponse.extend({ approval_id: z.string(), action: z.string() }).meta({
  examples: [
    {
      success: true,
      run_id: RUN_ID,
      status: 'running',
      current_step: 'api_call',
      approval_id: APPROVAL_ID,
      action: 'approve',
    },
  ],
});
export const ApprovalResponse = ApprovalView;
export const CancelApprovalResponse = z
  .object({
    success: z.literal(true),
    approval_id: z.string(),
    run_id: z.string().nullable(),
    status: z.string(),
    approval: ApprovalView,
  })
  .meta({
    examples: [
      {
        success: true,
        approval_id: APPROVAL_ID,
        run_id: RUN_ID,
        status: 'cancelled',
        approval: { ...(exampleOf(ApprovalView) as object), status: 'cancelled', actions: [] },
      },
    ],
  });
const ITEMS: Record<string, z.ZodType> = { runs: RunView, approvals: ApprovalView };
/** A page of runs or approvals: `{ runs | approvals, total, next_cursor }`. */
const page = (key: 'runs' | 'approvals') =>
  z.object({
    [key]: z.array(ITEMS[key] ?? Json),
    total: z.number().int(),
    next_cursor: z.string().nullable().describe('pass as `cursor` for the next page; null on the last'),
  });
const pageExample = (key: 'runs' | 'approvals') => ({
  [key]: [exampleOf(ITEMS[key] ?? Json)],
  total: 1,
  next_cursor: null,
});
export const Paged = (key: 'runs' | 'approvals') => page(key).meta({ examples: [pageExample(key)] });
export const SessionActiveResponse = page('runs')
  .extend({ has_pending_approvals: z.boolean() })
  .meta({ examples: [{ ...pageExample('runs'), has_pending_approvals: true }] });
export const EventsResponse = z
  .object({
    events: z.array(EventRow),
    next_cursor: z.string().nullable().describe('the last seq when the page is full'),
  })
  .meta({ examples: [{ events: [exampleOf(EventRow)], next_cursor: null }] });
export const VerifyResponse = z
  .object({ run_id: z.string(), seq: z.number(), consistent: z.boolean() })
  .meta({ examples: [{ run_id: RUN_ID, seq: 9, consistent: true }] });
export const TeamsRunResponse = z
  .object({
    run_id: z.string(),
    status: RunStatus,
    result: z.unknown().optional().describe('final_result, when the run ended (200)'),
    approval: ApprovalView.nullable().optional().describe('the open approval (202)'),
    error: z
      .object({ code: z.string(), message: z.string(), step: z.string(), retryable: z.boolean() })
      .nullable()
      .optional(),
  })
  .meta({
    examples: [
      {
        run_id: RUN_ID,
        status: 'completed',
        result: { prompt: 'Write a haiku about review queues' },
        error: null,
      },
    ],
  });
export const ProvidersResponse = z
  .object({
    providers: z.array(
      z.object({
        name: z.string(),
        tools: z.array(z.string()),
        operations: z.array(z.string()),
        configured: z.boolean(),
      }),
    ),
    total: z.number(),
  })
  .meta({
    examples: [
      {
        providers: [
          {
            name: 'replicate',
            tools: ['replicate-agent-tool'],
            operations: ['image_generation'],
            configured: true,
          },
          { name: 'echo', tools: ['echo-agent-tool'], operations: ['echo'], configured: true },
        ],
        total: 2,
      },
    ],
  });
export const HealthResponse = z
  .object({
    status: z.enum(['ok', 'ready']),
    postgres: z.boolean().optional(),
    cache: z.boolean().optional(),
    bus: z.boolean().optional(),
  })
  .meta({ examples: [{ status: 'ready', postgres: true, cache: true, bus: true }] });
/** A WebSocket reply frame (`POST /hitl/websocket/message`). */
export const FrameReply = z
  .object({
    type: z.string().describe('hitl_approval_response_ack, hitl_pending_approvals, pong, error, …'),
    data: z.unknown(),
    request_id: z.union([z.string(), z.number()]).optional(),
  })
  .meta({ examples: [{ type: 'pong', data: {}, request_id: '1' }] });
export const WebhookResponse = z
  .object({ received: z.literal(true), duplicate: z.boolean() })
  .meta({ examples: [{ received: true, duplicate: false }] });
/** The OpenAPI document itself. */
export const OpenApiDocument = z
  .object({ openapi: z.string(), info: Json, paths: Json, components: Json })
  .describe('An OpenAPI 3.1 document');
export const AnyJson = Json;
