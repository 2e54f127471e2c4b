// Replies: the headers dockerd sends on every response, JSON and empty bodies, error
// bodies (also on a hijacked socket), and the API version.
import http, { type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export const API_VERSION = '1.47';
export const MIN_API_VERSION = '1.24';
export const SERVER_HEADER = 'Moat/0.1.0 (linux)';

export function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

export function commonHeaders(): Record<string, string> {
  return { 'Api-Version': API_VERSION, Server: SERVER_HEADER, Ostype: 'linux', 'Docker-Experimental': 'false' };
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { ...commonHeaders(), 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { ...commonHeaders(), 'Content-Length': 0 });
  res.end();
}

export function sendErrorRes(res: ServerResponse, status: number, message: string, close = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(JSON.stringify({ message }));
  // After a refused body the rest of it may still be on the way: close rather than parse it.
  res.writeHead(status, { ...commonHeaders(), 'Content-Type': 'application/json', 'Content-Length': body.length, ...(close ? { Connection: 'close' } : {}) });
  res.end(body);
}

export function sendErrorRaw(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message });
  const head = [
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}`,
    ...Object.entries(commonHeaders()).map(([k, v]) => `${k}: ${v}`),
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    '',
  ].join('\r\n');
  socket.end(head + body);
}
