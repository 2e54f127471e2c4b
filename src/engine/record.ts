// The schema of a container record (`container.json`): every record is checked with it
// before it is written and when it is read, so a record the engine wrote always loads and a
// damaged one is found at startup, named, and kept apart (shown as Dead) instead of breaking
// every request that touches it. Pure.
import { z } from 'zod';
import { internal } from '../base/index.js';
import type { ContainerRecord } from './types.js';

const strings = z.array(z.string());
const maybeStrings = strings.nullable().optional();
const stringMap = z.record(z.string());

const stateSchema = z
  .object({
    Status: z.enum(['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead']),
    Pid: z.number().int().nonnegative(),
    ExitCode: z.number().int(),
    Error: z.string(),
    StartedAt: z.string(),
    FinishedAt: z.string(),
    OOMKilled: z.boolean(),
    ConmonPid: z.number().int().nonnegative().optional(),
  })
  .passthrough();

// Config and HostConfig keep Docker's field names and were checked by the API's create
// schema on the way in; here only the fields the engine reads without further checks.
const configSchema = z
  .object({
    Image: z.string(),
    Hostname: z.string().optional(),
    User: z.string().optional(),
    Env: maybeStrings,
    Cmd: maybeStrings,
    Entrypoint: maybeStrings,
    WorkingDir: z.string().optional(),
    Labels: stringMap.nullable().optional(),
    Volumes: z.record(z.object({}).passthrough()).nullable().optional(),
    Tty: z.boolean().optional(),
    OpenStdin: z.boolean().optional(),
    StdinOnce: z.boolean().optional(),
    StopSignal: z.string().optional(),
    StopTimeout: z.number().int().nullable().optional(),
  })
  .passthrough();

const objects = z.array(z.object({}).passthrough()).nullable().optional();
const hostConfigSchema = z
  .object({
    Binds: maybeStrings,
    Mounts: objects,
    Devices: objects,
    Ulimits: objects,
    Tmpfs: stringMap.nullable().optional(),
    Sysctls: stringMap.nullable().optional(),
    CapAdd: maybeStrings,
    CapDrop: maybeStrings,
    SecurityOpt: maybeStrings,
    GroupAdd: maybeStrings,
    ExtraHosts: maybeStrings,
    Links: maybeStrings,
    Dns: maybeStrings,
    DnsSearch: maybeStrings,
    AutoRemove: z.boolean().optional(),
    Privileged: z.boolean().optional(),
    NetworkMode: z.string().optional(),
    UsernsMode: z.string().optional(),
    IpcMode: z.string().optional(),
    PidMode: z.string().optional(),
  })
  .passthrough();

const nsRequest = z.object({ kind: z.enum(['private', 'host', 'container', 'none', 'shareable']), ref: z.string().optional() });

// What create decided (types.ts ContainerPlan): start builds the OCI spec from it unchecked,
// so every field it reads is checked here.
const planSchema = z
  .object({
    capabilities: strings,
    namespaces: z.object({ pid: nsRequest, ipc: nsRequest, uts: nsRequest, network: nsRequest, cgroup: nsRequest, userns: z.boolean() }),
    mounts: z.array(
      z
        .object({
          kind: z.enum(['bind', 'volume', 'tmpfs']),
          source: z.string(),
          target: z.string().startsWith('/'),
          readOnly: z.boolean(),
          propagation: z.enum(['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave']),
          options: strings,
          label: z.enum(['z', 'Z']).optional(),
          noCopy: z.boolean().optional(),
          origin: z.enum(['Binds', 'Mounts', 'Tmpfs']),
        })
        .passthrough(),
    ),
    sysctls: stringMap,
    ulimits: z.array(z.object({ Name: z.string(), Soft: z.number().int(), Hard: z.number().int() })),
    devices: z.array(z.object({ PathOnHost: z.string(), PathInContainer: z.string(), CgroupPermissions: z.string() })),
    resources: z.object({}).passthrough(),
    noNewPrivileges: z.boolean(),
    maskedPaths: strings,
    readonlyPaths: strings,
    sysReadOnly: z.boolean(),
    shmSize: z.number().int().nonnegative(),
  })
  .passthrough();

export const containerRecordSchema = z
  .object({
    Id: z.string().regex(/^[a-f0-9]{64}$/),
    Name: z.string().regex(/^\/[a-zA-Z0-9][a-zA-Z0-9_.-]+$/),
    Created: z.string(),
    Image: z.string(),
    Path: z.string(),
    Args: strings,
    Config: configSchema,
    HostConfig: hostConfigSchema,
    State: stateSchema,
    RestartCount: z.number().int().nonnegative(),
    ExitGeneration: z.number().int().nonnegative(),
    Security: z.object({}).passthrough().optional(),
    RemoveVolumes: z.boolean().optional(),
    Volumes: z.array(z.object({ name: z.string(), target: z.string(), anonymous: z.boolean(), noCopy: z.boolean().optional(), inherited: z.boolean().optional() })).optional(),
    Plan: planSchema.optional(),
  })
  .passthrough();

/** What is wrong with a record, one line: `State: Expected object, received string`. */
function describeIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'record'}: ${i.message}`)
    .join('; ');
}

export type RecordCheck = { ok: true; record: ContainerRecord } | { ok: false; reason: string };

/**
 * Check a record read from disk (its text) for container `id`.
 *
 * @example
 * checkRecordText(id, '{}') // { ok: false, reason: 'Id: Required; Name: Required; Created: Required' }
 */
export function checkRecordText(id: string, text: string): RecordCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: text.trim() === '' ? 'the file is empty' : `not JSON: ${(err as Error).message}` };
  }
  const parsed = containerRecordSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
  if (parsed.data.Id !== id) return { ok: false, reason: `Id: ${JSON.stringify(parsed.data.Id)} does not match its directory` };
  return { ok: true, record: parsed.data as unknown as ContainerRecord };
}

/** Throws when the engine is about to write a record it could not read back (a bug). */
export function assertRecord(rec: ContainerRecord): void {
  const parsed = containerRecordSchema.safeParse(rec);
  if (!parsed.success) throw internal(`refusing to write an invalid container record ${rec.Id}: ${describeIssues(parsed.error)}`);
}
