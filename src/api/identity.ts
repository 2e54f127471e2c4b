// Who is calling, once per connection: the peer's uid/gid (SO_PEERCRED) on a unix socket,
// the verified client certificate's CN on TLS. The body budget keys callers by it.
import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import { EngineError } from '../base/index.js';
import { identifyUnixPeer, socketFd, type Identity } from '../authz/index.js';

/** How a listener identifies its callers. */
export type PeerIdentityMode = 'peercred' | 'tls' | 'none';

export interface Caller {
  identity: Identity;
  peerCertificates?: Uint8Array[];
}

const callers = new WeakMap<object, Promise<Caller>>();

async function identify(socket: IncomingMessage['socket'], mode: PeerIdentityMode): Promise<Caller> {
  if (mode === 'peercred') {
    const fd = socketFd(socket);
    if (fd === undefined) throw new EngineError('internal', 'ERR_AUTHZ_PEERCRED', 'Cannot read peer credentials: no file descriptor');
    return { identity: await identifyUnixPeer(fd) };
  }
  if (mode === 'tls') {
    // The listener requires a verified certificate; check again rather than trust it.
    if (!(socket instanceof TLSSocket) || !socket.authorized) {
      throw new EngineError('forbidden', 'ERR_AUTHZ_TLS', 'a verified TLS client certificate is required');
    }
    const cert = socket.getPeerCertificate();
    const cn: unknown = cert.subject?.CN;
    // Go's pkix.Name keeps the last CN attribute.
    const user = Array.isArray(cn) ? (cn[cn.length - 1] as unknown) : cn;
    const identity: Identity = typeof user === 'string' && user !== '' ? { user, authMethod: 'TLS' } : {};
    return { identity, peerCertificates: cert.raw ? [new Uint8Array(cert.raw)] : [] };
  }
  return { identity: {} };
}

export function callerOf(socket: IncomingMessage['socket'], mode: PeerIdentityMode): Promise<Caller> {
  let p = callers.get(socket);
  if (!p) {
    p = identify(socket, mode);
    callers.set(socket, p);
  }
  return p;
}

/** The body budget's key for a caller: the unix peer's uid, the TLS CN, or anonymous. */
export function callerKey(c: Caller): string {
  if (c.identity.uid !== undefined) return `uid:${c.identity.uid}`;
  if (c.identity.user !== undefined && c.identity.user !== '') return `cn:${c.identity.user}`;
  return 'anonymous';
}
