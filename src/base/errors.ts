/** The closed set of error kinds; each maps to one HTTP status. */
export type ErrorKind =
  | 'invalid'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'not-modified'
  | 'too-large'
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
