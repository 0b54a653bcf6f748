import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL (${protocols.join(' or ')})`,
  );

/** `HITL_DATA_DIR` when unset: the generated key (and, except as root, the embedded cluster). */
export const DEFAULT_DATA_DIR = './data';

/** Service keys shorter than this are a configuration error (SPEC §7). */
export const MIN_KEY_LENGTH = 16;

/** The secret part of a `HITL_API_KEYS` entry: a `label=key` entry's key, else the entry. */
function secretOfKey(entry: string): string {
  const m = /^[A-Za-z0-9_.-]{1,64}=(.+)$/.exec(entry);
  return m?.[1] ?? entry;
}

/** Every environment variable the service reads (SPEC §9), parsed once at start. */
export const Config = z.object({
  PORT: port.default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  HITL_EMBEDDED_PG_PORT: port.optional(),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  /** Unset: `./data` (`DEFAULT_DATA_DIR`); whether it was set decides where, as root, the embedded cluster lives. */
  HITL_DATA_DIR: z.string().min(1).optional(),
  HITL_API_KEYS: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((k) => k.trim())
            .filter(Boolean)
        : [],
    )
    .refine(
      (keys) => keys.every((k) => secretOfKey(k).length >= MIN_KEY_LENGTH),
      `every key must be at least ${MIN_KEY_LENGTH} characters`,
    ),
  HITL_JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  REPLICATE_API_TOKEN: z.string().min(1).optional(),
  REPLICATE_BASE_URL: url(['http:', 'https:']).default('https://api.replicate.com/v1'),
  REPLICATE_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]+$/, 'must look like whsec_<base64>')
    .optional(),
  HITL_PUBLIC_URL: url(['http:', 'https:']).optional(),
  WEBSOCKET_URL: url(['ws:', 'wss:', 'http:', 'https:']).optional(),
  WEBSOCKET_API_KEY: z.string().min(1).optional(),
  HITL_INSPECT: url(['ws:', 'wss:']).optional(),
  /** Honour `X-Forwarded-For` (rate limits, logs): only behind a proxy that sets it. */
  HITL_TRUST_PROXY: z
    .enum(['1', 'true', 'TRUE', 'True', 'yes', '0', 'false', 'FALSE', 'False', 'no'])
    .optional()
    .transform((v) => v !== undefined && ['1', 'true', 'TRUE', 'True', 'yes'].includes(v)),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Tuning and test knobs (documented in the README). */
  HITL_NODE_ID: z.string().min(1).optional(),
  HITL_LEASE_MS: z.coerce.number().int().min(200).default(15_000),
  HITL_MAX_LIVE_RUNS: z.coerce.number().int().min(1).default(1000),
  /** Processes serving one port (node:cluster); they fan out through Redis or Postgres LISTEN/NOTIFY. */
  HITL_WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  /** Commits waiting for a group commit beyond this are refused with 503 + Retry-After. */
  HITL_COMMIT_QUEUE_MAX: z.coerce.number().int().min(1).default(2000),
  HITL_POLL_MS: z.coerce.number().int().min(50).default(1000),
  HITL_TIMER_TICK_MS: z.coerce.number().int().min(20).default(250),
  HITL_FAULT_POINT: z.enum(['after_commit', 'after_submit_request', 'batch_in_flight']).optional(),
});
export type Config = z.infer<typeof Config>;

/** Parse the environment; a bad value stops the service with a message naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = Config.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  if (parsed.data.HITL_PUBLIC_URL && !parsed.data.REPLICATE_WEBHOOK_SECRET) {
    throw new Error(
      'Invalid configuration:\n  REPLICATE_WEBHOOK_SECRET: required when HITL_PUBLIC_URL is set',
    );
  }
  return parsed.data;
}
