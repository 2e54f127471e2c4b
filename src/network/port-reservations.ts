// Hold published host ports. netavark 1.4 only writes DNAT rules; nothing listens on the
// host port, so without a holder another program could bind it and silently lose its
// traffic to the container, and two containers could get the same port. moat binds each
// published port (a TCP listener, a UDP socket) for as long as it is published, as podman
// does (podman hands the sockets to conmon, which keeps them until the container exits;
// conmon 2.1.6 src/conmon.c close_other_fds). Random ports come from the kernel's ephemeral
// range (net.ipv4.ip_local_port_range), as Docker's. Host.
import net from 'node:net';
import dgram from 'node:dgram';
import { EngineError, invalid } from '../base/index.js';
import type { PortMapping, PortRequest } from './ports.js';

interface Holder {
  readonly mapping: PortMapping;
  close(): Promise<void>;
  fd(): number | undefined;
}

/** The bound host ports of one container. */
export interface PortReservation {
  readonly mappings: readonly PortMapping[];
  /** The sockets' file descriptors, to hand to a process that keeps them (conmon). */
  fds(): number[];
  /** Close every socket; safe to call twice. */
  release(): Promise<void>;
}

function handleFd(h: unknown): number | undefined {
  const fd = (h as { _handle?: { fd?: unknown } } | undefined)?._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function bindError(err: unknown, ip: string, port: number): EngineError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new EngineError('conflict', 'ERR_PORT_IN_USE', `Bind for ${ip}:${port} failed: port is already allocated`, { cause: err });
  }
  if (code === 'EADDRNOTAVAIL') return invalid(`Cannot publish on ${ip}: the address is not on this host`, { cause: err });
  return new EngineError('internal', 'ERR_PORT_BIND', `Cannot bind ${ip}:${port}: ${String((err as Error).message)}`, { cause: err });
}

async function holdTcp(ip: string, port: number): Promise<{ port: number; holder: Omit<Holder, 'mapping'> }> {
  const server = net.createServer((sock) => sock.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: ip, port, exclusive: true, backlog: 1 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const bound = (server.address() as net.AddressInfo).port;
  return {
    port: bound,
    holder: {
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
      fd: () => handleFd(server),
    },
  };
}

async function holdUdp(ip: string, port: number): Promise<{ port: number; holder: Omit<Holder, 'mapping'> }> {
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address: ip, port, exclusive: true }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  sock.on('error', () => undefined);
  // Datagrams that reach the holder (only when the DNAT rule is missing) are dropped unread.
  sock.on('message', () => undefined);
  return {
    port: sock.address().port,
    holder: {
      close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
      fd: () => handleFd(sock),
    },
  };
}

async function holdOne(r: PortRequest): Promise<Holder> {
  const hold = r.protocol === 'tcp' ? holdTcp : holdUdp;
  if (r.hostPortFirst === 0) {
    try {
      const { port, holder } = await hold(r.hostIp, 0);
      return { ...holder, mapping: { containerPort: r.containerPort, protocol: r.protocol, hostIp: r.hostIp, hostPort: port } };
    } catch (err) {
      throw bindError(err, r.hostIp, 0);
    }
  }
  let last: unknown;
  for (let port = r.hostPortFirst; port <= r.hostPortLast; port++) {
    try {
      const { holder } = await hold(r.hostIp, port);
      return { ...holder, mapping: { containerPort: r.containerPort, protocol: r.protocol, hostIp: r.hostIp, hostPort: port } };
    } catch (err) {
      last = err;
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
    }
  }
  const shown = r.hostPortFirst === r.hostPortLast ? r.hostPortFirst : `${r.hostPortFirst}-${r.hostPortLast}`;
  const e = bindError(last, r.hostIp, r.hostPortFirst);
  if (e.code === 'ERR_PORT_IN_USE' && r.hostPortFirst !== r.hostPortLast) {
    throw new EngineError('conflict', 'ERR_PORT_IN_USE', `Bind for ${r.hostIp}:${shown} failed: every port in the range is already allocated`, { cause: last });
  }
  throw e;
}

/**
 * Bind every requested port, or none: on any failure the ports bound so far are closed
 * and the error names the address and port.
 */
export async function reservePorts(requests: readonly PortRequest[]): Promise<PortReservation> {
  const holders: Holder[] = [];
  try {
    for (const r of requests) holders.push(await holdOne(r));
  } catch (err) {
    await Promise.all(holders.map((h) => h.close()));
    throw err;
  }
  let released = false;
  return {
    mappings: holders.map((h) => h.mapping),
    fds: () => holders.map((h) => h.fd()).filter((fd): fd is number => fd !== undefined),
    release: async () => {
      if (released) return;
      released = true;
      await Promise.all(holders.map((h) => h.close()));
    },
  };
}

/** Hold ports that were published before (restore after a restart): the same host ports. */
export async function reholdPorts(mappings: readonly PortMapping[]): Promise<PortReservation> {
  return await reservePorts(mappings.map((m) => ({ containerPort: m.containerPort, protocol: m.protocol, hostIp: m.hostIp, hostPortFirst: m.hostPort, hostPortLast: m.hostPort })));
}
