// An Engine on fakes of its seams (fake-runtime.ts) and a temporary data root, for the
// engine's unit suites. Engines a failed test leaves open are closed after the file's tests.
import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/base/index.js';
import { MOAT_DEFAULT_CAPS } from '../../src/caps/index.js';
import { Engine, EventBus, SeccompPolicy, type ContainerNetworking, type DaemonDefaults, type EngineEvent } from '../../src/engine/index.js';
import { FakeRuntime, fakeHost, fakeImages } from './fake-runtime.js';

export const DEFAULTS: DaemonDefaults = {
  capabilities: MOAT_DEFAULT_CAPS,
  bounding: MOAT_DEFAULT_CAPS,
  pidsLimit: 2048,
  noNewPrivileges: false,
  shmSize: 64 * 1024 * 1024,
  cgroupParent: 'moat-unit',
  defaultUlimits: [],
  userns: undefined,
  numCpus: 2,
};

// One policy for every engine: resolving the default profile costs milliseconds, once.
const SECCOMP = new SeccompPolicy({ daemonDefault: { kind: 'builtin' }, arch: 'SCMP_ARCH_X86_64', kernel: '6.1.0', explainer: undefined });

export interface Rig {
  engine: Engine;
  /** Close the engine. (Until then a timer keeps the event loop alive: the engine's own timers are unref()ed, as a daemon's are, and a server keeps moatd's loop running.) */
  close(): Promise<void>;
  runtime: FakeRuntime;
  host: ReturnType<typeof fakeHost>;
  events: EngineEvent[];
  dataRoot: string;
}

const roots: string[] = [];
const open = new Set<() => Promise<void>>();
after(async () => {
  // Engines a failed test left open, then their data roots.
  for (const close of open) await close();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

export async function rig(o: { runtime?: FakeRuntime; dataRoot?: string; networking?: ContainerNetworking; cgroupParentIdleMs?: number } = {}): Promise<Rig> {
  const dataRoot = o.dataRoot ?? mkdtempSync(join(tmpdir(), 'moat-engine-unit-'));
  if (o.dataRoot === undefined) roots.push(dataRoot);
  const runtime = o.runtime ?? new FakeRuntime();
  const host = fakeHost();
  const bus = new EventBus();
  const events: EngineEvent[] = [];
  bus.subscribe((ev) => events.push(ev));
  const engine = new Engine({ dataRoot, runtime, host, images: fakeImages(), events: bus, log: silentLogger(), defaults: DEFAULTS, seccomp: SECCOMP, ...(o.networking ? { networking: o.networking } : {}), ...(o.cgroupParentIdleMs !== undefined ? { cgroupParentIdleMs: o.cgroupParentIdleMs } : {}) });
  const alive = setInterval(() => undefined, 60_000);
  await engine.init();
  const close = async (): Promise<void> => {
    open.delete(close);
    await engine.close();
    clearInterval(alive);
  };
  open.add(close);
  return { engine, close, runtime, host, events, dataRoot };
}
