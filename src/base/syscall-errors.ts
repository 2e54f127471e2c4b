// errno values from koffi calls as Node-style errors. Pure.
import { constants as osConstants } from 'node:os';

/** `EPERM` for 1, or `errno N` for a number Node does not name. */
export function errnoName(code: number): string {
  for (const [name, value] of Object.entries(osConstants.errno)) if (value === code) return name;
  return `errno ${code}`;
}

/** An error like Node's own for a failed system call: `code` is the errno name. */
export function sysError(call: string, what: string, code: number): NodeJS.ErrnoException {
  const err = new Error(`${call} ${what}: ${errnoName(code)}`) as NodeJS.ErrnoException;
  err.code = errnoName(code);
  err.errno = -code;
  err.syscall = call;
  err.path = what;
  return err;
}
