/** The closed set of error kinds; each maps to one HTTP status. */
export type ErrorKind =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'not-modified'
  | 'too-large'
  | 'timeout'
  | 'internal'
  | 'not-implemented'
  | 'unavailable';

const STATUS: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'not-modified': 304,
  'too-large': 413,
  timeout: 408,
  internal: 500,
  'not-implemented': 501,
  unavailable: 503,
};

/**
 * The one error type of the engine. `message` is what the docker CLI prints after
 * "Error response from daemon:"; `kind` picks the HTTP status.
 *
 * @example
 * throw new EngineError('not-found', 'ERR_NO_SUCH_CONTAINER', 'No such container: web');
 */
export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get status(): number {
    return STATUS[this.kind];
  }
}

/** True when `err` is an EngineError of the given kind. */
export function isKind(err: unknown, kind: ErrorKind): boolean {
  return err instanceof EngineError && err.kind === kind;
}

export function noSuchContainer(ref: string): EngineError {
  return new EngineError('not-found', 'ERR_NO_SUCH_CONTAINER', `No such container: ${ref}`);
}

export function noSuchImage(ref: string): EngineError {
  return new EngineError('not-found', 'ERR_NO_SUCH_IMAGE', `No such image: ${ref}`);
}

export function noSuchExec(ref: string): EngineError {
  return new EngineError('not-found', 'ERR_NO_SUCH_EXEC', `No such exec instance: ${ref}`);
}

export function noSuchVolume(ref: string): EngineError {
  return new EngineError('not-found', 'ERR_NO_SUCH_VOLUME', `get ${ref}: no such volume`);
}

export function invalid(message: string, options?: { cause?: unknown }): EngineError {
  return new EngineError('invalid', 'ERR_INVALID_ARGUMENT', message, options);
}

export function conflict(message: string): EngineError {
  return new EngineError('conflict', 'ERR_CONFLICT', message);
}

export function internal(message: string, options?: { cause?: unknown }): EngineError {
  return new EngineError('internal', 'ERR_INTERNAL', message, options);
}

/** A short printable form of any thrown value. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Host resource errors a client should read in Docker's words (moby passes the errno text
 * through: "no space left on device"). The code is the EngineError code moat answers with.
 */
const RESOURCE_ERRNOS: Readonly<Record<string, { code: string; text: string }>> = {
  ENOSPC: { code: 'ERR_NO_SPACE', text: 'no space left on device' },
  EDQUOT: { code: 'ERR_DISK_QUOTA', text: 'disk quota exceeded' },
  EROFS: { code: 'ERR_READ_ONLY_FS', text: 'read-only file system' },
  EMFILE: { code: 'ERR_TOO_MANY_FILES', text: 'too many open files' },
  ENFILE: { code: 'ERR_TOO_MANY_FILES', text: 'too many open files in system' },
};

/** The first Node system error (`code` like `ENOSPC`) in `err` and its chain of causes. */
export function findSystemError(err: unknown): NodeJS.ErrnoException | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return e as NodeJS.ErrnoException;
  }
  return undefined;
}

/**
 * A clear error for a full disk, a quota, a read-only file system or too many open files
 * anywhere in `err`'s causes, or undefined for anything else. `describePath` names the kind
 * of data a host path holds ("container state"); the path itself is never in the message.
 *
 * @example
 * resourceError(enospcFromWrite, () => 'container state')
 * // EngineError ERR_NO_SPACE "Cannot write container state: no space left on device"
 */
export function resourceError(err: unknown, describePath: (path: string) => string = () => 'host files'): EngineError | undefined {
  const sys = findSystemError(err);
  const known = sys?.code === undefined ? undefined : RESOURCE_ERRNOS[sys.code];
  if (sys === undefined || known === undefined) return undefined;
  const what = typeof sys.path === 'string' ? describePath(sys.path) : 'host files';
  const verb = known.code === 'ERR_TOO_MANY_FILES' ? 'open' : /^(read|scandir|stat|lstat|readlink)$/.test(sys.syscall ?? '') ? 'read' : 'write';
  return new EngineError('internal', known.code, `Cannot ${verb} ${what}: ${known.text}`, { cause: err });
}
