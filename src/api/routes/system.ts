// /_ping, /version, /info, /events, and the inspect chain's 404s.
import os from 'node:os';
import { EngineError, invalid } from '../../base/index.js';
import { volumeView, type Engine, type EngineEvent } from '../../engine/index.js';
import { checkFilterKeys, filterImages, labelsMatch, type ImageStore } from '../../image/index.js';
import { containerSummary, imageSummary } from '../views.js';
import { usersOf } from './volumes.js';
import { filtersParam, timeParamNs } from '../params.js';
import type { Router } from '../router.js';
import { API_VERSION, MIN_API_VERSION, commonHeaders, sendJson } from '../reply.js';

export interface SystemInfo {
  daemonId: string;
  dataRoot: string;
  securityOptions: () => string[];
  cgroupVersion: () => string;
  runcVersion: string;
  conmonVersion: string;
  authorizationPlugins: () => string[];
  warnings: () => string[];
  /** The daemon's default log driver (`--log-driver`); default json-file. */
  logDriver?: string;
  /** `--insecure-registry` and `--registry-mirror`, for RegistryConfig (docker info prints them). */
  registries?: () => { insecureRegistries: readonly string[]; registryMirrors: readonly string[] };
}

/** Docker's RegistryConfig: loopback is always insecure; CIDRs and hosts as configured. */
function registryConfig(r: { insecureRegistries: readonly string[]; registryMirrors: readonly string[] }): Record<string, unknown> {
  const cidrs = ['127.0.0.0/8', ...r.insecureRegistries.filter((e) => e.includes('/'))];
  const indexConfigs: Record<string, unknown> = { 'docker.io': { Name: 'docker.io', Mirrors: [...r.registryMirrors], Secure: true, Official: true } };
  for (const h of r.insecureRegistries.filter((e) => !e.includes('/'))) indexConfigs[h] = { Name: h, Mirrors: [], Secure: false, Official: false };
  return { AllowNondistributableArtifactsCIDRs: null, AllowNondistributableArtifactsHostnames: null, InsecureRegistryCIDRs: cidrs, IndexConfigs: indexConfigs, Mirrors: [...r.registryMirrors] };
}

export const ENGINE_VERSION = '0.1.0';

/** The keys `GET /events` accepts (Docker's events filter keys); any other is a 400. */
const EVENT_FILTERS = ['container', 'daemon', 'event', 'image', 'label', 'network', 'node', 'plugin', 'scope', 'type', 'volume', 'config', 'secret', 'service'];

function eventMatches(ev: EngineEvent, filters: Map<string, string[]>): boolean {
  for (const [key, values] of filters) {
    if (values.length === 0) continue;
    const attrs = ev.Actor.Attributes;
    // Several labels must all hold, as in Docker; other keys' values are alternatives.
    if (key === 'label') {
      if (!labelsMatch(values, attrs)) return false;
      continue;
    }
    const ok = values.some((v) => {
      switch (key) {
        case 'type':
          return ev.Type === v;
        case 'event':
          return ev.Action === v || ev.Action.startsWith(`${v}:`);
        case 'container':
          return ev.Type === 'container' && (ev.Actor.ID.startsWith(v) || attrs['name'] === v);
        case 'image':
          return attrs['image'] === v || (ev.Type === 'image' && (ev.Actor.ID === v || attrs['name'] === v));
        case 'volume':
          return ev.Type === 'volume' && ev.Actor.ID === v;
        case 'scope':
          return v === 'local';
        default:
          return false;
      }
    });
    if (!ok) return false;
  }
  return true;
}

export function registerSystemRoutes(r: Router, engine: Engine, images: ImageStore, info: SystemInfo): void {
  const ping = async (ctx: Parameters<Parameters<Router['add']>[2]>[0]): Promise<void> => {
    const res = ctx.res!;
    const head = ctx.req.method === 'HEAD';
    res.writeHead(200, {
      ...commonHeaders(),
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': head ? 0 : 2,
      Swarm: 'inactive',
    });
    res.end(head ? undefined : 'OK');
  };
  r.add('GET', '/_ping', ping);
  r.add('HEAD', '/_ping', ping);

  r.add('GET', '/version', async (ctx) => {
    const details = { ApiVersion: API_VERSION, Arch: os.arch() === 'x64' ? 'amd64' : os.arch(), BuildTime: '', Experimental: 'false', GitCommit: '', GoVersion: process.version, KernelVersion: os.release(), MinAPIVersion: MIN_API_VERSION, Os: 'linux' };
    sendJson(ctx.res!, 200, {
      Platform: { Name: 'moat' },
      Components: [
        { Name: 'Engine', Version: ENGINE_VERSION, Details: details },
        { Name: 'runc', Version: info.runcVersion, Details: { GitCommit: '' } },
        { Name: 'conmon', Version: info.conmonVersion, Details: { GitCommit: '' } },
      ],
      Version: ENGINE_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: process.version,
      Os: 'linux',
      Arch: details.Arch,
      KernelVersion: os.release(),
      BuildTime: '',
    });
  });

  r.add('GET', '/info', async (ctx) => {
    const list = engine.list();
    const running = list.filter((c) => c.State.Status === 'running').length;
    const paused = list.filter((c) => c.State.Status === 'paused').length;
    sendJson(ctx.res!, 200, {
      ID: info.daemonId,
      Containers: list.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: list.length - running - paused,
      Images: images.list().length,
      Driver: 'overlay',
      DriverStatus: [],
      Plugins: { Volume: ['local'], Network: ['null', 'host'], Authorization: info.authorizationPlugins(), Log: ['json-file', 'local', 'none'] },
      MemoryLimit: true,
      SwapLimit: true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: false,
      Debug: false,
      NFd: 0,
      OomKillDisable: true,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: info.logDriver ?? 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: info.cgroupVersion(),
      NEventsListener: 0,
      KernelVersion: os.release(),
      OperatingSystem: 'moat',
      OSVersion: '',
      OSType: 'linux',
      Architecture: os.machine(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: info.registries ? registryConfig(info.registries()) : null,
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      DockerRootDir: info.dataRoot,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: ENGINE_VERSION,
      Runtimes: { runc: { path: 'runc' } },
      DefaultRuntime: 'runc',
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: '',
      ContainerdCommit: { ID: '' },
      RuncCommit: { ID: info.runcVersion },
      InitCommit: { ID: '' },
      SecurityOptions: info.securityOptions(),
      Warnings: info.warnings(),
    });
  });

  // docker system df: images (with how many containers use each), containers (bytes each
  // wrote), volumes (bytes and users); moat keeps no build cache of its own layers to list.
  r.add('GET', '/system/df', async (ctx) => {
    const types = ctx.query.getAll('type');
    for (const ty of types) if (!['container', 'image', 'volume', 'build-cache'].includes(ty)) throw invalid(`unknown type: ${ty}`);
    const want = (ty: string): boolean => types.length === 0 || types.includes(ty);
    const containers = engine.list();
    const out: Record<string, unknown> = {};
    if (want('image')) {
      const counts = new Map<string, number>();
      for (const c of containers) counts.set(c.Image, (counts.get(c.Image) ?? 0) + 1);
      const listed = filterImages(images.list(), new Map(), (ref) => images.get(ref));
      // moby's SharedSize: the image's layers that other images have too (the CLI's
      // RECLAIMABLE counts in-use images as Size - SharedSize, and skips them at -1).
      const layersOf = (i: { config: { rootfs: { diff_ids: string[] } } }): string[] => [...new Set(i.config.rootfs.diff_ids)];
      const users = new Map<string, number>();
      for (const l of listed) for (const d of layersOf(l.image)) users.set(d, (users.get(d) ?? 0) + 1);
      const sizeOf = (ds: string[]): number => ds.reduce((n, d) => n + images.layerSize(d), 0);
      out['Images'] = listed.map((l) => ({
        ...imageSummary({ ...l.image, repoTags: l.repoTags, repoDigests: l.repoDigests }, counts.get(l.image.id) ?? 0),
        SharedSize: sizeOf(layersOf(l.image).filter((d) => (users.get(d) ?? 0) > 1)),
      }));
      out['LayersSize'] = sizeOf([...users.keys()]);
    }
    if (want('container')) {
      const now = Date.now();
      out['Containers'] = await Promise.all(containers.map(async (c) => ({ ...containerSummary(c, now), ...(await engine.sizes(c.Id)) })));
    }
    if (want('volume')) {
      out['Volumes'] = await Promise.all(
        (await engine.volumes.list()).map(async (v) => volumeView(v, engine.volumes.dataPath(v.Name), { Size: await engine.volumes.size(v.Name).catch(() => -1), RefCount: usersOf(engine, v.Name).length })),
      );
    }
    if (want('build-cache')) out['BuildCache'] = [];
    sendJson(ctx.res!, 200, out);
  });

  r.add('GET', '/events', async (ctx) => {
    const filters = filtersParam(ctx.query);
    checkFilterKeys(filters, EVENT_FILTERS);
    const sinceNs = timeParamNs(ctx.query, 'since');
    const untilNs = timeParamNs(ctx.query, 'until');
    const res = ctx.res!;
    res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/json' });
    res.flushHeaders();
    const send = (ev: EngineEvent): void => {
      if (eventMatches(ev, filters)) res.write(JSON.stringify(ev) + '\n');
    };
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    if (sinceNs !== undefined) {
      for (const ev of engine.events.history(Number(sinceNs), untilNs === undefined ? undefined : Number(untilNs))) send(ev);
    }
    if (untilNs !== undefined && untilNs <= nowNs) {
      res.end();
      return;
    }
    await new Promise<void>((resolve) => {
      const unsubscribe = engine.events.subscribe((ev) => {
        if (untilNs !== undefined && BigInt(ev.timeNano) > untilNs) return;
        send(ev);
      });
      let timer: NodeJS.Timeout | undefined;
      if (untilNs !== undefined) timer = setTimeout(() => res.end(), Number((untilNs - nowNs) / 1_000_000n));
      res.on('close', () => {
        unsubscribe();
        if (timer) clearTimeout(timer);
        resolve();
      });
    });
  });

  // `docker inspect NAME` walks containers, images, networks, volumes, plugins and moves on
  // only on a 404: these kinds do not exist in moat, so they answer 404.
  r.add('GET', '/networks/{id}', async (ctx) => {
    throw new EngineError('not-found', 'ERR_NO_SUCH_NETWORK', `network ${ctx.params['id']} not found`);
  });
  r.add('GET', '/networks', async (ctx) => sendJson(ctx.res!, 200, []));
  r.add('GET', '/plugins/{id}/json', async (ctx) => {
    throw new EngineError('not-found', 'ERR_NO_SUCH_PLUGIN', `plugin "${ctx.params['id']}" not found`);
  });
  r.add('GET', '/plugins', async (ctx) => sendJson(ctx.res!, 200, []));
}
