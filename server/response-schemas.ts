import { z } from 'zod';
import { Approval, RunStatus } from '../machines/schemas.ts';

/** Response schemas, for the OpenAPI document only: responses are built by the runtime. */

const Json = z.record(z.string(), z.unknown());
export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  detail: z.string(),
});
export const RunCreatedResponse = z.object({
  run_id: z.string(),
  status: RunStatus,
  current_step: z.string(),
  message: z.string(),
  hitl_config: Json,
  websocket_url: z.string(),
  events_url: z.string(),
  hitl_enabled: z.boolean().optional(),
  config: Json.optional(),
});
export const RunView = Json.describe('The run view (SPEC §2.7)');
export const RunStatusResponse = Json.describe('Status and progress of a run');
export const ControlResponse = z.object({
  success: z.literal(true),
  run_id: z.string().nullable(),
  status: z.string(),
  current_step: z.string().nullable(),
});
export const DecisionResponse = ControlResponse.extend({ approval_id: z.string(), action: z.string() });
export const ApprovalResponse = Approval;
export const CancelApprovalResponse = z.object({
  success: z.literal(true),
  approval_id: z.string(),
  run_id: z.string().nullable(),
  status: z.string(),
  approval: Approval,
});
export const Paged = (key: string) =>
  z.object({ [key]: z.array(Json), total: z.number(), next_cursor: z.string().nullable() });
export const EventsResponse = z.object({ events: z.array(Json), next_cursor: z.string().nullable() });
export const VerifyResponse = z.object({ run_id: z.string(), seq: z.number(), consistent: z.boolean() });
export const TeamsRunResponse = z.object({
  run_id: z.string(),
  status: RunStatus,
  result: z.unknown().optional(),
  approval: Json.nullable().optional(),
  error: Json.nullable().optional(),
});
export const ProvidersResponse = z.object({
  providers: z.array(
    z.object({
      name: z.string(),
      tools: z.array(z.string()),
      operations: z.array(z.string()),
      configured: z.boolean(),
    }),
  ),
  total: z.number(),
});
export const HealthResponse = Json;
export const AnyJson = Json;
