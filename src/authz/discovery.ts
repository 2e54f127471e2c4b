/**
 * Find a legacy (v1) Docker plugin by name, as moby/moby `pkg/plugins/discovery.go` and
 * `discovery_unix.go` do: sockets first, then spec files.
 *
 *   /run/docker/plugins/NAME.sock, /run/docker/plugins/NAME/NAME.sock   (must be sockets)
 *   /etc/docker/plugins, then /usr/lib/docker/plugins:
 *     NAME.spec, NAME/NAME.spec, NAME.json, NAME/NAME.json             (first hit wins)
 *
 * Host code: reads the file system.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { EngineError } from '../base/index.js';

/**
 * Where dockerd looks for plugin sockets, and then spec files.
 *
 * @example
 * await discoverPlugin('opa', { socketDirs: DEFAULT_SOCKET_DIRS, specDirs: ['/etc/moat/plugins', ...DEFAULT_SPEC_DIRS] });
 */
export const DEFAULT_SOCKET_DIRS: readonly string[] = ['/run/docker/plugins'];
/**
 * Where dockerd looks for `.spec` and `.json` plugin files, in order.
 *
 * @example
 * await discoverPlugin('opa', { specDirs: DEFAULT_SPEC_DIRS });
 */
export const DEFAULT_SPEC_DIRS: readonly string[] = ['/etc/docker/plugins', '/usr/lib/docker/plugins'];

/**
 * TLS for a plugin reached over TCP (from a .json spec's TLSConfig).
 *
 * @example
 * const tls: TlsSettings = { insecureSkipVerify: false, caFile: '/etc/docker/plugins/ca.pem' };
 */
export interface TlsSettings {
  insecureSkipVerify: boolean;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/**
 * Where a plugin listens.
 *
 * @example
 * const a: PluginAddress = { kind: 'unix', path: '/run/docker/plugins/opa.sock' };
 */
export type PluginAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly https: boolean; readonly tls: TlsSettings | undefined };

/**
 * A discovered plugin.
 *
 * @example
 * const ep: PluginEndpoint = await discoverPlugin('opa');
 */
export interface PluginEndpoint {
  readonly name: string;
  readonly address: PluginAddress;
  /** The socket or spec file it was found through. */
  readonly source: string;
}

/**
 * Search directories (tests use temp dirs).
 *
 * @example
 * await discoverPlugin('p', { socketDirs: [dir], specDirs: [] });
 */
export interface DiscoveryOptions {
  socketDirs?: readonly string[];
  specDirs?: readonly string[];
}

/**
 * Plugin names become file names, so they must not climb out of the plugin directories.
 * Docker's own rule for plugin references is looser; "../x" or "a/b" is refused here.
 */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function isValidPluginName(name: string): boolean {
  return NAME_RE.test(name) && !name.includes('..');
}

function notFound(name: string): EngineError {
  return new EngineError('not-found', 'ERR_AUTHZ_PLUGIN_NOT_FOUND', `plugin ${JSON.stringify(name)} not found`);
}

function badSpec(file: string, why: string, cause?: unknown): EngineError {
  return new EngineError('invalid', 'ERR_AUTHZ_BAD_PLUGIN_SPEC', `Cannot read plugin spec ${file}: ${why}`, cause === undefined ? undefined : { cause });
}

/** Parse a plugin address URL: `unix:///path`, `tcp://host:port`, `http://…`, `https://…`. */
export function parsePluginAddress(addr: string, tls: TlsSettings | undefined, file: string): PluginAddress {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(addr.trim());
  if (!m) throw badSpec(file, 'Unknown protocol');
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  if (scheme === 'unix') {
    if (!rest.startsWith('/')) throw badSpec(file, `unix address must be an absolute path: ${JSON.stringify(addr)}`);
    return { kind: 'unix', path: rest };
  }
  if (scheme === 'tcp' || scheme === 'http' || scheme === 'https') {
    let u: URL;
    try {
      u = new URL(`http://${rest}`);
    } catch (err) {
      throw badSpec(file, `invalid address ${JSON.stringify(addr)}`, err);
    }
    const port = Number(u.port || (scheme === 'https' ? 443 : 80));
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === '') throw badSpec(file, `missing host in ${JSON.stringify(addr)}`);
    // Docker speaks https only for an https:// address; moat also uses TLS whenever a
    // TLSConfig is given, rather than silently sending plain HTTP.
    return { kind: 'tcp', host, port, https: scheme === 'https' || tls !== undefined, tls: tls ?? (scheme === 'https' ? { insecureSkipVerify: false } : undefined) };
  }
  throw badSpec(file, `Unknown protocol ${JSON.stringify(scheme)}`);
}

const JsonSpecSchema = z.object({
  Name: z.string().optional(),
  Addr: z.string(),
  TLSConfig: z
    .object({
      InsecureSkipVerify: z.boolean().optional(),
      CAFile: z.string().optional(),
      CertFile: z.string().optional(),
      KeyFile: z.string().optional(),
    })
    .nullable()
    .optional(),
});

/** Parse a `.json` plugin spec. The Name inside is ignored, as in Docker. */
export function parseJsonSpec(text: string, file: string): PluginAddress {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw badSpec(file, `invalid JSON: ${(err as Error).message}`, err);
  }
  const parsed = JsonSpecSchema.safeParse(doc);
  if (!parsed.success) throw badSpec(file, parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; '));
  const t = parsed.data.TLSConfig;
  const tls: TlsSettings | undefined = t
    ? {
        // Docker forces InsecureSkipVerify when CAFile is empty; moat verifies against the
        // system roots instead, unless InsecureSkipVerify is set explicitly.
        insecureSkipVerify: t.InsecureSkipVerify === true,
        caFile: t.CAFile || undefined,
        certFile: t.CertFile || undefined,
        keyFile: t.KeyFile || undefined,
      }
    : undefined;
  return parsePluginAddress(parsed.data.Addr, tls, file);
}

async function isSocket(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isSocket();
  } catch {
    return false;
  }
}

async function readIfFile(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path);
    if (!st.isFile()) return undefined;
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw badSpec(path, (err as Error).message, err);
  }
}

/**
 * Find a plugin. Throws EngineError 'not-found' (`plugin "NAME" not found`) when no socket or
 * spec file names it, 'invalid' for a bad name or spec file.
 *
 * @example
 * const ep = await discoverPlugin('opa-docker-authz');
 * // { name, address: { kind: 'unix', path: '/run/docker/plugins/opa-docker-authz.sock' }, source }
 */
export async function discoverPlugin(name: string, options: DiscoveryOptions = {}): Promise<PluginEndpoint> {
  if (!isValidPluginName(name)) {
    throw new EngineError('invalid', 'ERR_AUTHZ_BAD_PLUGIN_NAME', `Invalid plugin name ${JSON.stringify(name)}`);
  }
  for (const dir of options.socketDirs ?? DEFAULT_SOCKET_DIRS) {
    for (const p of [join(dir, `${name}.sock`), join(dir, name, `${name}.sock`)]) {
      if (await isSocket(p)) return { name, address: { kind: 'unix', path: p }, source: p };
    }
  }
  for (const dir of options.specDirs ?? DEFAULT_SPEC_DIRS) {
    for (const [p, kind] of [
      [join(dir, `${name}.spec`), 'spec'],
      [join(dir, name, `${name}.spec`), 'spec'],
      [join(dir, `${name}.json`), 'json'],
      [join(dir, name, `${name}.json`), 'json'],
    ] as const) {
      const text = await readIfFile(p);
      if (text === undefined) continue;
      const address = kind === 'spec' ? parsePluginAddress(text.trim(), undefined, p) : parseJsonSpec(text, p);
      return { name, address, source: p };
    }
  }
  throw notFound(name);
}
