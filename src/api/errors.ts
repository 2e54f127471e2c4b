// The only place errors become HTTP responses: `{"message": ...}` with exactly
// `Content-Type: application/json` (the docker CLI compares the whole header).
import { join } from 'node:path';
import { EngineError, resourceError, type Logger } from '../base/index.js';

export interface ErrorReply {
  status: number;
  body: { message: string };
}

/** Codes whose message is meant for the client even though the kind is internal. */
const SHOWN_INTERNAL = new Set(['ERR_RUNTIME_FAILED', 'ERR_AUTHZ_PLUGIN_FAILED', 'ERR_STOP_TIMEOUT', 'ERR_NO_SPACE', 'ERR_DISK_QUOTA', 'ERR_READ_ONLY_FS', 'ERR_TOO_MANY_FILES']);

/** Names the kind of data under a host path, for messages that must not show the path. */
export type DescribePath = (path: string) => string;

/**
 * The kinds of data under moatd's roots, longest prefix first: a full disk is reported as
 * "Cannot write container state: no space left on device", never with the path.
 *
 * @example
 * describeHostPaths({ dataRoot: '/var/lib/moat', execRoot: '/run/moat' })('/var/lib/moat/volumes/v/_data') // 'volume data'
 */
export function describeHostPaths(roots: { dataRoot: string; execRoot: string }): DescribePath {
  const classes: Array<[string, string]> = [
    [join(roots.dataRoot, 'containers'), 'container state'],
    [join(roots.dataRoot, 'volumes'), 'volume data'],
    [join(roots.dataRoot, 'image'), 'the image store'],
    [roots.dataRoot, 'the data root'],
    [roots.execRoot, 'runtime state'],
  ];
  return (path) => {
    for (const [prefix, name] of classes) if (path === prefix || path.startsWith(`${prefix}/`)) return name;
    return 'host files';
  };
}

export function toErrorReply(err: unknown, log: Logger, requestId: string, describePath?: DescribePath): ErrorReply {
  // A full disk, a quota or too many open files: Docker's words and the kind of data, not
  // "Internal error" (and not the host path, which stays in the log).
  if (!(err instanceof EngineError) || err.kind === 'internal') {
    const resource = resourceError(err, describePath);
    if (resource !== undefined && !(err instanceof EngineError && SHOWN_INTERNAL.has(err.code))) {
      log.warn({ requestId, err: err instanceof Error ? err.message : String(err), code: resource.code }, 'request failed');
      return { status: resource.status, body: { message: resource.message } };
    }
  }
  if (err instanceof EngineError && (err.kind !== 'internal' || SHOWN_INTERNAL.has(err.code))) {
    if (err.kind === 'internal') log.warn({ requestId, err: err.message, cause: String(err.cause ?? '') }, 'request failed');
    return { status: err.status, body: { message: err.message } };
  }
  log.error({ requestId, err: err instanceof Error ? { message: err.message, stack: err.stack, cause: String(err.cause ?? '') } : String(err) }, 'request failed');
  return { status: 500, body: { message: `Internal error, see daemon log for request ${requestId}` } };
}
