// What the listener tells its standby, as pure encoders and a checked decoder. One
// SOCK_SEQPACKET packet per message, JSON, with the fd it is about as SCM_RIGHTS:
//
//   hello  + the listening socket (runc connects there; the standby accepts on it after a takeover)
//   fd     + a container's notify fd, under `key` (unique per listener), its in-flight `slot`
//   drop   the listener let go of `key` (the standby closes its copy)
//   stop   the listener is stopping on purpose: do not take over, exit
import { isSafeContainerId } from './structs.js';

export type HandoffMessage =
  | { readonly t: 'hello'; readonly v: 1 }
  | { readonly t: 'fd'; readonly key: number; readonly slot: number; readonly id: string }
  | { readonly t: 'drop'; readonly key: number }
  | { readonly t: 'stop' };

/** One message as its packet's bytes. */
export function encodeHandoff(m: HandoffMessage): Buffer {
  return Buffer.from(JSON.stringify(m));
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * The message in a packet, or undefined when it is not one (the standby then ignores it and
 * closes any fd that came with it).
 *
 * @example
 * tryParseHandoff(Buffer.from('{"t":"drop","key":3}')); // { t: 'drop', key: 3 }
 */
export function tryParseHandoff(data: Buffer): HandoffMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  switch (o['t']) {
    case 'hello':
      return o['v'] === 1 ? { t: 'hello', v: 1 } : undefined;
    case 'fd':
      return isInt(o['key']) && isInt(o['slot']) && typeof o['id'] === 'string' && isSafeContainerId(o['id']) ? { t: 'fd', key: o['key'], slot: o['slot'], id: o['id'] } : undefined;
    case 'drop':
      return isInt(o['key']) ? { t: 'drop', key: o['key'] } : undefined;
    case 'stop':
      return { t: 'stop' };
    default:
      return undefined;
  }
}
