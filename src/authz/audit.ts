/**
 * Audit records: one per authorization decision, with who asked, what, and who decided.
 * Pure: builds data; the chain's sink writes it.
 */
import type { Identity } from './wire.js';

/**
 * Which hook decided.
 *
 * @example
 * const phase: AuditPhase = 'request';
 */
export type AuditPhase = 'request' | 'response';
/**
 * The outcome; `error` is a failed plugin (which denies).
 *
 * @example
 * if (rec.decision !== 'allow') alert(rec);
 */
export type AuditDecision = 'allow' | 'deny' | 'error';

/**
 * One decision: who, what, which plugin and rule.
 *
 * @example
 * new AuthzChain(plugins, { audit: (rec: AuditRecord) => auditLog.info({ audit: rec }) });
 */
export interface AuditRecord {
  time: string;
  requestId?: string;
  phase: AuditPhase;
  decision: AuditDecision;
  /** The plugin that decided; `(none)` when no plugin is configured. */
  plugin: string;
  /** The policy rule that decided, when the plugin is the built-in policy. */
  rule?: string;
  msg?: string;
  user?: string;
  uid?: number;
  gid?: number;
  pid?: number;
  authMethod?: string;
  method: string;
  /** Canonical URI as plugins saw it. */
  uri: string;
  /** Canonical path without the version prefix. */
  path: string;
  /** The decision was logged but could not be enforced (a streamed or hijacked response). */
  enforced: boolean;
}

export interface AuditInput {
  phase: AuditPhase;
  decision: AuditDecision;
  plugin: string;
  identity: Identity;
  method: string;
  uri: string;
  path: string;
  rule?: string | undefined;
  msg?: string | undefined;
  requestId?: string | undefined;
  enforced?: boolean | undefined;
  now?: Date | undefined;
}

/**
 * Build one audit record; absent facts are left out, never logged as empty strings.
 *
 * @example
 * buildAuditRecord({ phase: 'request', decision: 'deny', plugin: 'moat-policy', rule: 'no-privileged',
 *   identity: { user: 'alice', uid: 1000, authMethod: 'SO_PEERCRED' }, method: 'POST',
 *   uri: '/v1.41/containers/create', path: '/containers/create' })
 */
export function buildAuditRecord(input: AuditInput): AuditRecord {
  const rec: AuditRecord = {
    time: (input.now ?? new Date()).toISOString(),
    phase: input.phase,
    decision: input.decision,
    plugin: input.plugin,
    method: input.method,
    uri: input.uri,
    path: input.path,
    enforced: input.enforced ?? true,
  };
  if (input.requestId !== undefined) rec.requestId = input.requestId;
  if (input.rule !== undefined) rec.rule = input.rule;
  if (input.msg !== undefined && input.msg !== '') rec.msg = input.msg;
  const id = input.identity;
  if (id.user !== undefined && id.user !== '') rec.user = id.user;
  if (id.uid !== undefined) rec.uid = id.uid;
  if (id.gid !== undefined) rec.gid = id.gid;
  if (id.pid !== undefined) rec.pid = id.pid;
  if (id.authMethod !== undefined) rec.authMethod = id.authMethod;
  return rec;
}
