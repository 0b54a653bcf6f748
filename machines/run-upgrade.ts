import { RUN_MACHINE_VERSION } from './run-machine.ts';
import { isRecord } from './values.ts';

type Json = Record<string, unknown>;

/**
 * Explicit, tested steps from a stored snapshot of an earlier machine version to the current one
 * (SPEC §8 upgrades), for comparing a stored snapshot with a replay. Each step says what changed.
 */
const STEPS: Record<number, (snapshot: Json) => Json> = {
  // 1 → 2: provider steps count their failures and back off (nothing failed under version 1).
  1: (snapshot) => ({
    ...snapshot,
    context: { ...(snapshot.context as Json), work_failures: 0, work_retry_at: null },
  }),
};

/** The stored snapshot JSON as the current machine would have stored it; null when no steps lead there. */
export function upgradedSnapshot(envelope: { machine_version?: unknown; snapshot?: unknown }): unknown {
  let version = envelope.machine_version;
  let snapshot = envelope.snapshot;
  while (version !== RUN_MACHINE_VERSION) {
    const step = typeof version === 'number' ? STEPS[version] : undefined;
    if (!step || !isRecord(snapshot) || !isRecord(snapshot.context)) return null;
    snapshot = step(snapshot);
    version = (version as number) + 1;
  }
  return snapshot;
}
