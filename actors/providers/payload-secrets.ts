import type { ValidationIssue } from '../../machines/schemas.ts';
import { secretPaths } from '../redact.ts';

/**
 * SPEC §7: a secret-named field in the model input is an `error` issue, never a silent change:
 * what is reviewed is exactly what is sent, and a secret never belongs in either.
 */
export function secretFieldIssues(payload: Record<string, unknown>): ValidationIssue[] {
  return secretPaths(payload).map((field) => ({
    field,
    issue: `${field}: secrets do not belong in a reviewed payload`,
    severity: 'error' as const,
    suggested_fix: 'Remove the field; configure credentials on the server, not in the model input',
    auto_fixable: false,
  }));
}
