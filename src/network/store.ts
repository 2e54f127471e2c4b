// Network records on disk: `<data-root>/network/networks/<id>.json` and
// `<data-root>/network/endpoints/<containerId>.json`, written atomically (temp file, fsync,
// rename). Every record is checked at load; a file that does not parse is reported and
// left alone, never fatal. Host.
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../base/index.js';
import type { BuiltinNetwork, EndpointRecord, NetworkRecord } from './types.js';

const ID = z.string().regex(/^[a-f0-9]{64}$/);
const Str = z.record(z.string(), z.string());

const SubnetSchema = z.object({
  subnet: z.string(),
  gateway: z.string(),
  ipRange: z.string().optional(),
  auxAddresses: Str.optional(),
  userConfigured: z.boolean(),
});

const NetworkSchema = z.object({
  id: ID,
  name: z.string().min(1),
  driver: z.literal('bridge'),
  bridge: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/),
  created: z.string(),
  subnets: z.array(SubnetSchema).min(1),
  internal: z.boolean(),
  attachable: z.boolean(),
  dns: z.boolean(),
  icc: z.boolean(),
  predefined: z.boolean(),
  labels: Str,
  options: Str,
});

const PortSchema = z.object({
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.enum(['tcp', 'udp']),
  hostIp: z.string(),
  hostPort: z.number().int().min(1).max(65535),
});

const AttachmentSchema = z.object({
  networkId: ID,
  interfaceName: z.string(),
  ip: z.string(),
  prefixLen: z.number().int(),
  gateway: z.string(),
  mac: z.string(),
  aliases: z.array(z.string()),
  requestedIp: z.string().optional(),
  endpointId: z.string(),
  netavarkConfig: z.unknown(),
  publishes: z.boolean(),
});

const EndpointSchema = z.object({
  containerId: ID,
  containerName: z.string(),
  netnsName: z.string().regex(/^[a-zA-Z0-9_.-]+$/).optional(),
  phase: z.enum(['setting-up', 'up', 'tearing-down']),
  attachments: z.array(AttachmentSchema),
  ports: z.array(PortSchema),
  dnsServers: z.array(z.string()),
});

const BuiltinsSchema = z.array(z.object({
  id: ID,
  name: z.enum(['host', 'none']),
  driver: z.enum(['host', 'null']),
  created: z.string(),
}));

export interface LoadProblem {
  file: string;
  message: string;
}

export interface Loaded {
  networks: NetworkRecord[];
  endpoints: EndpointRecord[];
  problems: LoadProblem[];
}

export class NetworkStore {
  readonly #networks: string;
  readonly #endpoints: string;

  /** `root` is `<data-root>/network`. */
  constructor(readonly root: string) {
    this.#networks = join(root, 'networks');
    this.#endpoints = join(root, 'endpoints');
  }

  async init(): Promise<void> {
    await mkdir(this.#networks, { recursive: true, mode: 0o700 });
    await mkdir(this.#endpoints, { recursive: true, mode: 0o700 });
  }

  async saveNetwork(n: NetworkRecord): Promise<void> {
    await writeJsonAtomic(join(this.#networks, `${n.id}.json`), n);
  }

  async deleteNetwork(id: string): Promise<void> {
    await rm(join(this.#networks, `${ID.parse(id)}.json`), { force: true });
  }

  /**
   * Endpoint records describe kernel state (namespaces, links, rules) that a power loss
   * erases anyway, so they are replaced atomically (temp file, rename) without fsync: a
   * crash of moatd cannot tear them, and each start saves two fsyncs (about 30 ms here).
   */
  async saveEndpoint(e: EndpointRecord): Promise<void> {
    const path = join(this.#endpoints, `${e.containerId}.json`);
    const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      try {
        await fh.writeFile(JSON.stringify(e, null, 2) + '\n');
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      // A full disk or any other failure leaves no temporary file behind.
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async deleteEndpoint(containerId: string): Promise<void> {
    await rm(join(this.#endpoints, `${ID.parse(containerId)}.json`), { force: true });
  }

  /** The pseudo-networks' ids (`builtin.json`); undefined when missing or not valid (then made anew). */
  async loadBuiltins(): Promise<BuiltinNetwork[] | undefined> {
    try {
      const parsed = BuiltinsSchema.safeParse(JSON.parse(await readFile(join(this.root, 'builtin.json'), 'utf8')));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  async saveBuiltins(list: readonly BuiltinNetwork[]): Promise<void> {
    await writeJsonAtomic(join(this.root, 'builtin.json'), list);
  }

  async load(): Promise<Loaded> {
    // Temporary files of writes a crash interrupted (their record is the old one or none).
    for (const dir of [this.#networks, this.#endpoints]) {
      for (const name of await readdir(dir)) if (name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
    }
    const problems: LoadProblem[] = [];
    const read = async <T>(dir: string, schema: z.ZodType<T>): Promise<T[]> => {
      const out: T[] = [];
      for (const name of (await readdir(dir)).sort()) {
        if (!/^[a-f0-9]{64}\.json$/.test(name)) continue;
        const file = join(dir, name);
        try {
          const parsed = schema.safeParse(JSON.parse(await readFile(file, 'utf8')));
          if (!parsed.success) {
            problems.push({ file, message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
            continue;
          }
          if (!name.startsWith((parsed.data as { id?: string; containerId?: string }).id ?? (parsed.data as { containerId?: string }).containerId ?? '')) {
            problems.push({ file, message: 'file name and id differ' });
            continue;
          }
          out.push(parsed.data);
        } catch (err) {
          problems.push({ file, message: (err as Error).message });
        }
      }
      return out;
    };
    const networks = await read<NetworkRecord>(this.#networks, NetworkSchema as z.ZodType<NetworkRecord>);
    const endpoints = await read<EndpointRecord>(this.#endpoints, EndpointSchema as z.ZodType<EndpointRecord>);
    return { networks, endpoints, problems };
  }
}
