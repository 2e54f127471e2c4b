// The full consistency check after a fault: what moatd reports (its API), what the kernel
// holds (mounts, cgroups, conmon and container processes, runc's state) and what is on disk
// (records, bundles, volumes, exit files, temporary files) must agree. Returns every problem
// found, as sentences, so a failing test says what leaked.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupDirsOf, pidsMentioning, type TestDaemon } from '../helpers/daemon.js';
import { docker } from '../integration/compat/cli.js';
import { dockerCli } from '../helpers/requires.js';
import { tempFilesUnder } from './disk.js';

interface Listed {
  Id: string;
  Names: string[];
  State: string;
}

interface InspectView {
  Id: string;
  State: { Status: string; Pid: number; ExitCode: number };
  HostConfig?: { CgroupParent?: string };
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> };
}

export interface CheckOptions {
  /** Anonymous volumes must each belong to a container (off when the API made some without a name). */
  anonymousVolumesOwned?: boolean;
  /** Decode every container with the stock docker CLI (`docker inspect`). */
  dockerInspect?: boolean;
}

function runcList(d: TestDaemon): Array<{ id: string; status: string; pid: number }> {
  const root = join(d.execRoot, 'runc');
  if (!existsSync(root)) return [];
  const out = execFileSync('runc', ['--root', root, 'list', '--format', 'json'], { encoding: 'utf8' });
  return (JSON.parse(out || 'null') as Array<{ id: string; status: string; pid: number }> | null) ?? [];
}

function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p !== '');
}

/** conmon processes started by this daemon: container id -> pid (exec conmons are not counted). */
function conmons(d: TestDaemon): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of pidsMentioning(d.execRoot)) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!(argv[0] ?? '').endsWith('conmon') || argv.includes('-e')) continue;
    const i = argv.indexOf('-c');
    if (i >= 0 && argv[i + 1]) out.set(argv[i + 1]!, pid);
  }
  return out;
}

export async function checkConsistency(d: TestDaemon, o: CheckOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const r = await d.api('GET', '/containers/json?all=1');
  if (r.status !== 200) return [`ps -a answered ${r.status}: ${r.body.toString()}`];
  const listed = r.json<Listed[]>();
  const byId = new Map<string, InspectView>();
  for (const c of listed) {
    const ins = await d.api('GET', `/containers/${c.Id}/json`);
    if (ins.status !== 200) problems.push(`inspect ${c.Names[0]} answered ${ins.status}`);
    else byId.set(c.Id, ins.json<InspectView>());
  }
  const live = (id: string): boolean => ['running', 'paused'].includes(byId.get(id)?.State.Status ?? '');
  const short = (id: string): string => id.slice(0, 12);
  const names = listed.map((c) => c.Names[0]);
  if (new Set(names).size !== names.length) problems.push(`duplicate names: ${names.filter((n, i) => names.indexOf(n) !== i).join(', ')}`);
  for (const c of byId.values()) {
    if (c.State.Status === 'removing') problems.push(`${short(c.Id)} is still "removing"`);
    if (c.State.Status === 'dead') problems.push(`${short(c.Id)} is Dead`);
    if (c.State.Status === 'exited' && c.State.ExitCode === 255) problems.push(`${short(c.Id)} exited without its exit code (255)`);
  }

  // Disk: one directory with a valid record per container, nothing else.
  const containersDir = join(d.dataRoot, 'containers');
  const dirs = existsSync(containersDir) ? readdirSync(containersDir).filter((n) => /^[a-f0-9]{64}$/.test(n)) : [];
  for (const id of dirs) {
    if (!byId.has(id)) problems.push(`directory of an unknown container ${short(id)} (files: ${readdirSync(join(containersDir, id)).join(' ')})`);
    else if (!existsSync(join(containersDir, id, 'container.json'))) problems.push(`${short(id)} has no record`);
  }
  for (const id of byId.keys()) if (!dirs.includes(id)) problems.push(`${short(id)} is listed but has no directory`);

  // runc: exactly the live containers, in the same state.
  const runc = runcList(d);
  for (const s of runc) {
    const c = byId.get(s.id);
    if (!c) problems.push(`runc knows ${short(s.id)} (${s.status}), moatd does not`);
    else if (c.State.Status !== s.status) problems.push(`${short(s.id)}: moatd says ${c.State.Status}, runc says ${s.status}`);
  }
  for (const id of byId.keys()) if (live(id) && !runc.some((s) => s.id === id)) problems.push(`${short(id)} is ${byId.get(id)!.State.Status} but runc does not know it`);

  // conmon: one per live container, none for others.
  const cm = conmons(d);
  for (const [id, pid] of cm) if (!live(id)) problems.push(`conmon ${pid} for ${byId.has(id) ? `${byId.get(id)!.State.Status} ` : 'unknown '}container ${short(id)}`);
  for (const id of byId.keys()) if (live(id) && !cm.has(id)) problems.push(`${short(id)} is ${byId.get(id)!.State.Status} without a conmon`);

  // Mounts under the daemon's roots: exactly the live containers' rootfs.
  for (const m of mountPoints()) {
    if (!m.startsWith(`${d.root}/`) || m === d.dataRoot) continue;
    const match = new RegExp(`^${containersDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/([a-f0-9]{64})/rootfs$`).exec(m);
    if (!match || !live(match[1]!)) problems.push(`leftover mount ${m.slice(d.root.length)}`);
  }

  // cgroups: a leaf per live container (below its CgroupParent, if any), and under the
  // daemon's parent only the CgroupParent levels some container names.
  const levels = new Set<string>();
  for (const c of byId.values()) {
    const parts = (c.HostConfig?.CgroupParent ?? '').split('/').filter((p) => p !== '');
    parts.forEach((_p, i) => levels.add(parts.slice(0, i + 1).join('/')));
  }
  const walkCgroups = (dir: string, rel: string): void => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      if (/^[a-f0-9]{64}$/.test(e.name)) {
        const parent = (byId.get(e.name)?.HostConfig?.CgroupParent ?? '').split('/').filter((p) => p !== '').join('/');
        if (!live(e.name)) problems.push(`leftover cgroup ${join(dir, child)}`);
        else if (parent !== rel) problems.push(`cgroup ${join(dir, child)} is not under its CgroupParent ${JSON.stringify(parent)}`);
      } else if (!levels.has(child)) problems.push(`leftover cgroup ${join(dir, child)}`);
      else walkCgroups(dir, child);
    }
  };
  for (const dir of cgroupDirsOf(d.cgroupParent)) walkCgroups(dir, '');

  // Volumes: every directory has its record; anonymous ones belong to a container.
  const volumesDir = join(d.dataRoot, 'volumes');
  const owned = new Set<string>();
  for (const c of listed) {
    const ins = await d.api('GET', `/containers/${c.Id}/json`);
    if (ins.status === 200) for (const m of ins.json<{ Mounts?: Array<{ Name?: string }> }>().Mounts ?? []) if (m.Name) owned.add(m.Name);
  }
  if (existsSync(volumesDir)) {
    for (const name of readdirSync(volumesDir)) {
      const rec = join(volumesDir, name, 'volume.json');
      if (!existsSync(rec)) {
        problems.push(`half-made volume directory ${name.slice(0, 12)}`);
        continue;
      }
      const v = JSON.parse(readFileSync(rec, 'utf8')) as { Anonymous?: boolean };
      if (o.anonymousVolumesOwned !== false && v.Anonymous === true && !owned.has(name)) problems.push(`leaked anonymous volume ${name.slice(0, 12)}`);
    }
  }

  // Runtime state: exit files and exec sessions only for containers that exist; no temp files.
  const exits = join(d.execRoot, 'exits');
  if (existsSync(exits)) for (const n of readdirSync(exits)) if (!byId.has(n)) problems.push(`exit file of a removed container ${short(n)}`);
  const execDir = join(d.execRoot, 'exec');
  if (existsSync(execDir)) {
    for (const n of readdirSync(execDir)) {
      // An exec still running in a live container keeps its session directory.
      const pidFile = join(execDir, n, 'conmon.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) || 0 : 0;
      let argv: string[] = [];
      try {
        argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      } catch {
        // gone
      }
      const ctr = argv[argv.indexOf('-c') + 1] ?? '';
      if (!(pid > 0 && argv.includes('-e') && live(ctr))) problems.push(`leftover exec session ${short(n)}`);
    }
  }
  for (const f of tempFilesUnder(d.dataRoot)) problems.push(`temporary file ${f.slice(d.root.length)}`);
  problems.push(...networkProblems(d, byId, live));

  if (o.dockerInspect === true && dockerCli() !== undefined && listed.length > 0) {
    for (let i = 0; i < listed.length; i += 50) {
      const ids = listed.slice(i, i + 50).map((c) => c.Id);
      const res = await docker(d, ['inspect', ...ids]);
      if (res.code !== 0) problems.push(`docker inspect cannot decode: ${res.stderr.trim().slice(0, 300)}`);
    }
  }
  return problems;
}

/**
 * The host's network state against the containers (the daemon's default bridge only: the
 * crash loop makes no user networks): endpoint records, named namespaces and veths on the
 * bridge only for live containers, one distinct address each, and no nat rule naming a
 * container that is not live or sending traffic to an address no live container has.
 */
function networkProblems(d: TestDaemon, byId: Map<string, InspectView>, live: (id: string) => boolean): string[] {
  const problems: string[] = [];
  const short = (id: string): string => id.slice(0, 12);
  const endpoints = join(d.dataRoot, 'network', 'endpoints');
  if (existsSync(endpoints)) {
    for (const f of readdirSync(endpoints)) {
      // Temporary files are the disk check's (tempFilesUnder).
      if (!/^[a-f0-9]{64}\.json$/.test(f)) continue;
      const id = f.replace(/\.json$/, '');
      if (!live(id)) problems.push(`network endpoint record of a container that is not running ${short(id)}`);
    }
  }
  const tag = createHash('sha256').update(d.dataRoot).digest('hex').slice(0, 8);
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`moat-${tag}-`));
  const liveIds = [...byId.keys()].filter(live);
  for (const n of netns) if (!liveIds.some((id) => n === `moat-${tag}-${short(id)}`)) problems.push(`network namespace ${n} of no running container`);
  const addresses = liveIds.map((id) => byId.get(id)!.NetworkSettings?.Networks?.['bridge']?.IPAddress ?? '').filter((a) => a !== '');
  if (new Set(addresses).size !== addresses.length) problems.push(`two running containers share an address: ${addresses.join(' ')}`);
  for (const a of addresses) if (!a.startsWith(`${d.bridgeSubnet.prefix}.`)) problems.push(`address ${a} is not in the bridge's subnet ${d.bridgeSubnet.subnet}`);
  // moat's idle port (`mta-<tag>`) holds the default bridge while moatd runs; it is no container's.
  const veths = (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string; master?: string }>).filter((l) => l.master === d.bridge && l.ifname !== `mta-${tag}`);
  if (veths.length !== addresses.length) problems.push(`${veths.length} veths on ${d.bridge} for ${addresses.length} running containers with an address`);
  for (const line of execFileSync('iptables-save', ['-t', 'nat'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')) {
    const named = /id: ([a-f0-9]{64})/.exec(line)?.[1];
    if (named !== undefined && byId.has(named) && !live(named)) problems.push(`nat rule of a stopped container ${short(named)}: ${line}`);
    const to = /--to-destination (\d+\.\d+\.\d+\.\d+):/.exec(line)?.[1];
    if (to !== undefined && to.startsWith(`${d.bridgeSubnet.prefix}.`) && !addresses.includes(to)) problems.push(`DNAT to ${to}, which no running container has: ${line}`);
  }
  return problems;
}

/** The daemon's warnings about networks (to explain a network problem the check found). */
export function networkWarnings(d: TestDaemon): string[] {
  return readFileSync(d.logFile, 'utf8')
    .split('\n')
    .filter((l) => /"level":(40|50)/.test(l) && /network|netavark|teardown/i.test(l))
    .slice(-10);
}

/** Lines of the daemon's log where its safety net caught something (it must never have to). */
export function safetyNetHits(d: TestDaemon): string[] {
  return readFileSync(d.logFile, 'utf8')
    .split('\n')
    .filter((l) => /uncaught exception: moatd keeps running|unhandled rejection: moatd keeps running/.test(l));
}
