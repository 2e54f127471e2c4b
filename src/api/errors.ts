// The only place errors become HTTP responses: `{"message": ...}` with exactly
// `Content-Type: application/json` (the docker CLI compares the whole header).
import { EngineError, type Logger } from '../base/index.js';

export interface ErrorReply {
  status: number;
  body: { message: string };
}

/** Codes whose message is meant for the client even though the kind is internal. */
const SHOWN_INTERNAL = new Set(['ERR_RUNTIME_FAILED', 'ERR_AUTHZ_PLUGIN_FAILED', 'ERR_STOP_TIMEOUT']);

export function toErrorReply(err: unknown, log: Logger, requestId: string): ErrorReply {
  if (err instanceof EngineError && (err.kind !== 'internal' || SHOWN_INTERNAL.has(err.code))) {
    if (err.kind === 'internal') log.warn({ requestId, err: err.message, cause: String(err.cause ?? '') }, 'request failed');
    return { status: err.status, body: { message: err.message } };
  }
  log.error({ requestId, err: err instanceof Error ? { message: err.message, stack: err.stack, cause: String(err.cause ?? '') } : String(err) }, 'request failed');
  return { status: 500, body: { message: `Internal error, see daemon log for request ${requestId}` } };
}
