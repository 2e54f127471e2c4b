// Engine records -> Docker wire JSON (list items and inspect). Pure.
import type { ContainerPaths, ContainerRecord, HostConfig } from '../engine/index.js';
import type { ImageRecord } from '../image/index.js';

/** go-units HumanDuration, which `docker ps` prints verbatim. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** What `docker ps` adds for a container with a healthcheck, as Docker words it. */
function healthSuffix(status: string | undefined): string {
  if (status === undefined) return '';
  return status === 'starting' ? ' (health: starting)' : ` (${status})`;
}

export function statusText(c: ContainerRecord, nowMs: number): string {
  const st = c.State;
  switch (st.Status) {
    case 'running':
      return `Up ${humanDuration(nowMs - Date.parse(st.StartedAt))}${healthSuffix(st.Health?.Status)}`;
    case 'paused':
      return `Up ${humanDuration(nowMs - Date.parse(st.StartedAt))} (Paused)`;
    case 'restarting':
      return `Restarting (${st.ExitCode}) ${humanDuration(nowMs - Date.parse(st.FinishedAt))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'exited':
      return `Exited (${st.ExitCode}) ${humanDuration(nowMs - Date.parse(st.FinishedAt))} ago`;
    default:
      return 'Created';
  }
}

function quoteArg(a: string): string {
  return /\s/.test(a) ? `'${a}'` : a;
}

export function containerSummary(c: ContainerRecord, nowMs: number): Record<string, unknown> {
  return {
    Id: c.Id,
    Names: [c.Name],
    Image: c.Config.Image,
    ImageID: c.Image,
    Command: [c.Path, ...c.Args].map(quoteArg).join(' '),
    Created: Math.floor(Date.parse(c.Created) / 1000),
    Ports: [],
    Labels: c.Config.Labels ?? {},
    State: c.State.Status,
    Status: statusText(c, nowMs),
    HostConfig: { NetworkMode: c.HostConfig.NetworkMode || 'default' },
    NetworkSettings: { Networks: {} },
    Mounts: mountsView(c),
  };
}

/**
 * Docker's MountPoints: every bind, volume and `--mount type=tmpfs` of the plan (`--tmpfs`
 * entries are not listed, as in moby), with the host path of a bind, the data directory of a
 * volume (when `volumesDir` is given), and moby's Mode (a `-v` bind's options, `z` for a `-v`
 * named volume, else ''). A record from before plans were kept lists its volumes.
 */
function mountsView(c: ContainerRecord, volumesDir?: string): Array<Record<string, unknown>> {
  const volumeSource = (name: string): string => (volumesDir === undefined ? '' : `${volumesDir}/${name}/_data`);
  const mounts = c.Plan?.mounts;
  if (mounts === undefined) return (c.Volumes ?? []).map((v) => ({ Type: 'volume', Name: v.name, Source: volumeSource(v.name), Destination: v.target, Driver: 'local', Mode: '', RW: true, Propagation: '' }));
  return mounts.filter((m) => m.origin !== 'Tmpfs').map((m) => {
    const RW = !m.readOnly;
    if (m.kind === 'bind') {
      const Mode = m.origin === 'Binds' ? [m.readOnly ? 'ro' : '', m.label ?? ''].filter((x) => x !== '').join(',') : '';
      return { Type: 'bind', Source: m.source, Destination: m.target, Mode, RW, Propagation: m.propagation };
    }
    if (m.kind === 'volume') return { Type: 'volume', Name: m.source, Source: volumeSource(m.source), Destination: m.target, Driver: 'local', Mode: m.origin === 'Binds' ? 'z' : '', RW, Propagation: '' };
    return { Type: 'tmpfs', Source: '', Destination: m.target, Mode: '', RW, Propagation: '' };
  });
}

/** HostConfig with daemon defaults filled in, as inspect shows it. */
export function hostConfigView(c: ContainerRecord): HostConfig & Record<string, unknown> {
  const hc = c.HostConfig;
  return {
    Binds: null,
    ContainerIDFile: '',
    LogConfig: { Type: 'json-file', Config: {} },
    NetworkMode: 'default',
    PortBindings: {},
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: false,
    VolumeDriver: '',
    VolumesFrom: null,
    CapAdd: null,
    CapDrop: null,
    Dns: [],
    DnsOptions: [],
    DnsSearch: [],
    ExtraHosts: null,
    GroupAdd: null,
    Cgroup: '',
    Links: null,
    OomScoreAdj: 0,
    PidMode: '',
    Privileged: false,
    PublishAllPorts: false,
    ReadonlyRootfs: false,
    SecurityOpt: null,
    UTSMode: '',
    UsernsMode: '',
    Runtime: 'runc',
    Isolation: '',
    CpuShares: 0,
    Memory: 0,
    NanoCpus: 0,
    CgroupParent: '',
    BlkioWeight: 0,
    CpuPeriod: 0,
    CpuQuota: 0,
    CpusetCpus: '',
    CpusetMems: '',
    Devices: [],
    DeviceCgroupRules: null,
    MemoryReservation: 0,
    MemorySwap: 0,
    MemorySwappiness: null,
    OomKillDisable: null,
    Ulimits: null,
    ...hc,
    // Docker's driver names (docker-py reads logs back only for json-file and journald);
    // records made before log settings existed said k8s-file, conmon's name for the format.
    ...(hc.LogConfig && (hc.LogConfig.Type === 'k8s-file' || hc.LogConfig.Type === '') ? { LogConfig: { Type: 'json-file', Config: hc.LogConfig.Config ?? {} } } : {}),
    // The CLI sends 0 and '' for these; dockerd shows the defaults it applied (the planned size, private, private).
    ShmSize: hc.ShmSize || c.Plan?.shmSize || 0,
    IpcMode: hc.IpcMode || 'private',
    CgroupnsMode: hc.CgroupnsMode || 'private',
    PidsLimit: c.Security?.PidsLimit ?? (hc.PidsLimit && hc.PidsLimit > 0 ? hc.PidsLimit : null),
    MaskedPaths: c.Security?.MaskedPaths ?? hc.MaskedPaths ?? null,
    ReadonlyPaths: c.Security?.ReadonlyPaths ?? hc.ReadonlyPaths ?? null,
  };
}

export function containerInspect(c: ContainerRecord, o: { paths: ContainerPaths; execIds: string[] }): Record<string, unknown> {
  const paths = o.paths;
  const st = c.State;
  return {
    Id: c.Id,
    Created: c.Created,
    Path: c.Path,
    Args: c.Args,
    State: {
      Status: st.Status,
      // Docker's state: a container waiting to be restarted by its policy is still "running".
      Running: st.Status === 'running' || st.Status === 'paused' || st.Status === 'restarting',
      Paused: st.Status === 'paused',
      Restarting: st.Status === 'restarting',
      OOMKilled: st.OOMKilled,
      Dead: st.Status === 'dead',
      Pid: st.Pid,
      ExitCode: st.ExitCode,
      Error: st.Error,
      StartedAt: st.StartedAt,
      FinishedAt: st.FinishedAt,
      ...(st.Health ? { Health: st.Health } : {}),
    },
    Image: c.Image,
    ResolvConfPath: paths.ResolvConfPath,
    HostnamePath: paths.HostnamePath,
    HostsPath: paths.HostsPath,
    LogPath: paths.LogPath,
    Name: c.Name,
    RestartCount: c.RestartCount,
    Driver: 'overlay',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: o.execIds.length > 0 ? o.execIds : null,
    HostConfig: hostConfigView(c),
    GraphDriver: { Name: 'overlay', Data: { UpperDir: paths.UpperDir, WorkDir: paths.WorkDir, MergedDir: paths.MergedDir } },
    Mounts: mountsView(c, paths.VolumesDir),
    Config: {
      Hostname: c.Config.Hostname,
      Domainname: c.Config.Domainname ?? '',
      User: c.Config.User ?? '',
      AttachStdin: c.Config.AttachStdin ?? false,
      AttachStdout: c.Config.AttachStdout ?? false,
      AttachStderr: c.Config.AttachStderr ?? false,
      Tty: c.Config.Tty ?? false,
      OpenStdin: c.Config.OpenStdin ?? false,
      StdinOnce: c.Config.StdinOnce ?? false,
      ...(c.Config.ExposedPorts && Object.keys(c.Config.ExposedPorts).length > 0 ? { ExposedPorts: c.Config.ExposedPorts } : {}),
      Env: c.Config.Env ?? null,
      Cmd: c.Config.Cmd ?? null,
      ...(c.Config.Healthcheck ? { Healthcheck: c.Config.Healthcheck } : {}),
      Image: c.Config.Image,
      Volumes: c.Config.Volumes && Object.keys(c.Config.Volumes).length > 0 ? c.Config.Volumes : null,
      WorkingDir: c.Config.WorkingDir ?? '',
      Entrypoint: c.Config.Entrypoint ?? null,
      OnBuild: null,
      Labels: c.Config.Labels ?? {},
      ...(c.Config.StopSignal ? { StopSignal: c.Config.StopSignal } : {}),
      ...(c.Config.StopTimeout !== undefined && c.Config.StopTimeout !== null ? { StopTimeout: c.Config.StopTimeout } : {}),
    },
    NetworkSettings: {
      Bridge: '',
      SandboxID: '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: {},
      SandboxKey: '',
      Networks: {},
    },
    // moat's own: the security state the container actually runs with.
    Security: c.Security ?? null,
  };
}

export function imageSummary(i: ImageRecord, containers: number): Record<string, unknown> {
  return {
    Containers: containers,
    Created: Math.floor(Date.parse(i.config.created) / 1000),
    Id: i.id,
    Labels: i.config.config.Labels ?? null,
    ParentId: '',
    RepoDigests: i.repoDigests,
    RepoTags: i.repoTags,
    SharedSize: -1,
    Size: i.size,
  };
}

/** Config fields only some images have (a Dockerfile's HEALTHCHECK, SHELL). */
function extraConfig(c: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['Healthcheck', 'Shell', 'ArgsEscaped']) if (c[k] !== undefined && c[k] !== null) out[k] = c[k];
  return out;
}

/**
 * The ContainerConfig of API < 1.45, sent to every client: docker-compose 1.29 reads the
 * image's `ContainerConfig.Volumes` on each recreate (a KeyError without it, as with moby
 * 26+) to carry the old container's volumes over; dockerd 20.10's classic builder had the
 * image's VOLUMEs there.
 */
function legacyContainerConfig(i: ImageRecord): Record<string, unknown> {
  return {
    Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false, OpenStdin: false, StdinOnce: false,
    Env: null, Cmd: null, Image: '', Volumes: i.config.config.Volumes ?? null, WorkingDir: '', Entrypoint: null, OnBuild: null, Labels: null,
  };
}

/** `GET /images/{name}/json`; `below144`: moby's VirtualSize for clients of API < 1.44. */
export function imageInspect(i: ImageRecord, parent?: string, o: { below144?: boolean } = {}): Record<string, unknown> {
  return {
    Container: '',
    ContainerConfig: legacyContainerConfig(i),
    ...(o.below144 ? { VirtualSize: i.size } : {}),
    Id: i.id,
    RepoTags: i.repoTags,
    RepoDigests: i.repoDigests,
    Parent: parent ?? '',
    Comment: i.config.comment ?? '',
    Created: i.config.created,
    DockerVersion: '',
    Author: i.config.author ?? '',
    Config: {
      Env: i.config.config.Env ?? null,
      Cmd: i.config.config.Cmd ?? null,
      Entrypoint: i.config.config.Entrypoint ?? null,
      WorkingDir: i.config.config.WorkingDir ?? '',
      User: i.config.config.User ?? '',
      Labels: i.config.config.Labels ?? null,
      ExposedPorts: i.config.config.ExposedPorts ?? null,
      Volumes: i.config.config.Volumes ?? null,
      StopSignal: i.config.config.StopSignal ?? '',
      OnBuild: (i.config.config as { OnBuild?: string[] | null }).OnBuild ?? null,
      ...extraConfig(i.config.config as Record<string, unknown>),
    },
    Architecture: i.config.architecture,
    Os: i.config.os,
    Size: i.size,
    GraphDriver: { Name: 'overlay', Data: null },
    RootFS: { Type: 'layers', Layers: i.config.rootfs.diff_ids },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}
