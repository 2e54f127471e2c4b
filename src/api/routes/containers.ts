// /containers/* routes: the Docker Engine API's container endpoints.
import { EngineError, invalid, isKind } from '../../base/index.js';
import { streamLogs, followLogs, statContainerPath, archiveContainerPath, extractIntoContainer, type ContainerPathStat, UPDATE_RESOURCE_FIELDS, type ContainerUpdate, type Engine, type ContainerRecord, type EndpointConfig, type LogEntry, type LogSink, type StatsSample, type WaitCondition } from '../../engine/index.js';
import { checkFilterKeys, labelsMatch, parseFilterTime, parsePlatform, platformMatches, platformText, type ImageStore } from '../../image/index.js';
import { execConfigSchema, execStartSchema, issuesText, readContainerCreate, readRequest } from '../../docker/index.js';
import { drainOf, openClientStream } from '../hijack.js';
import { boolParam, filtersParam, intParam, timeParamNs } from '../params.js';
import type { Router, RequestContext } from '../router.js';
import { commonHeaders, sendEmpty, sendJson } from '../reply.js';
import { batchedLogWriter, frame } from '../stream.js';
import { containerInspect, containerSummary } from '../views.js';
import { volumesOfContainer } from './volumes.js';
import { leftNone, type NetworkRouteDeps } from './networks.js';
import { networkSettingsView, portListView } from '../../network/index.js';
import { diffTree, exportTree } from '../../image/index.js';
import { pipeToClient } from '../pipe.js';

export interface ContainerRouteDeps {
  engine: Engine;
  images: ImageStore;
  network?: NetworkRouteDeps;
}

/** The networks a record names (NetworkMode first) and their endpoint settings; `none` and `host` show as Docker's pseudo-networks. */
function namedNetworks(c: ContainerRecord): Array<[string, EndpointConfig]> {
  const mode = c.HostConfig.NetworkMode ?? '';
  if (leftNone(c)) return [];
  if (mode === 'none' || mode === 'host') return [[mode, {}]];
  if (mode.startsWith('container:')) return [];
  const eps = c.NetworkingConfig?.EndpointsConfig ?? {};
  const primary = mode === '' || mode === 'default' ? 'bridge' : mode;
  // The CLI keys the default network's settings `default` (its NetworkMode): that is `bridge`.
  const isPrimary = (n: string): boolean => n === primary || (primary === 'bridge' && n === 'default');
  return [[primary, eps[primary] ?? (primary === 'bridge' ? eps['default'] : undefined) ?? {}], ...Object.entries(eps).filter(([n]) => !isPrimary(n))];
}

/**
 * NetworkSettings (inspect), Ports (list) and the Security section's network part: from the
 * driver's endpoint while the container runs, from the record's settings otherwise.
 */
function containerNetworkViews(d: NetworkRouteDeps, c: ContainerRecord): { settings: Record<string, unknown>; ports: unknown[]; security: Record<string, unknown> } {
  const endpoint = d.driver.endpoint(c.Id);
  const live = endpoint !== undefined && endpoint.phase === 'up';
  const settings = networkSettingsView({ endpoint: live ? endpoint : undefined, networks: d.driver.listNetworks(), exposedPorts: c.Config.ExposedPorts ?? null, sandboxKey: live && endpoint.netnsName ? `/run/netns/${endpoint.netnsName}` : '' });
  const nets = settings['Networks'] as Record<string, unknown>;
  for (const [name, ep] of namedNetworks(c)) {
    const n = networkOf(d, name);
    const key = n?.name ?? name;
    if (key in nets) continue;
    nets[key] = {
      IPAMConfig: ep.IPAMConfig ?? null, Links: null, Aliases: ep.Aliases ?? null, MacAddress: ep.MacAddress ?? '', DriverOpts: null, GwPriority: 0,
      NetworkID: n?.id ?? '', EndpointID: '', Gateway: '', IPAddress: '', IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
    };
  }
  const mappings = live ? endpoint.ports : [];
  return {
    settings,
    ports: portListView(c.Config.ExposedPorts ?? null, mappings),
    security: {
      NetworkMode: c.HostConfig.NetworkMode || 'default',
      Networks: Object.keys(nets),
      PublishedPorts: mappings.map((m) => `${m.hostIp === '' ? '0.0.0.0' : m.hostIp}:${m.hostPort}->${m.containerPort}/${m.protocol}`),
      BindAddresses: [...new Set(mappings.map((m) => (m.hostIp === '' ? '0.0.0.0' : m.hostIp)))],
    },
  };
}

/** The network a record names (a bridge network or `host`/`none`), or undefined if it is gone. */
function networkOf(d: NetworkRouteDeps, ref: string): { id: string; name: string } | undefined {
  try {
    return d.driver.findAnyNetwork(ref);
  } catch {
    return undefined;
  }
}

/**
 * The `network` filter of `docker ps`, as dockerd's: a value matches a network the container
 * is on (any of them, not only NetworkMode) by exact name or by id prefix.
 */
function onNetwork(c: ContainerRecord, value: string, d: NetworkRouteDeps | undefined): boolean {
  return namedNetworks(c).some(([ref]) => {
    const n = d !== undefined ? networkOf(d, ref) : undefined;
    return n !== undefined ? n.name === value || n.id.startsWith(value) : ref === value;
  });
}

/** The keys `GET /containers/json` accepts (Docker's `acceptedPsFilterTags`); any other is a 400. */
const CONTAINER_LIST_FILTERS = ['status', 'name', 'id', 'label', 'ancestor', 'exited', 'before', 'since', 'volume', 'network', 'is-task', 'health', 'publish', 'expose', 'isolation'] as const;

function matchesFilters(c: ContainerRecord, filters: Map<string, string[]>, imageIdOf: (ref: string) => string | undefined, createdOf: (ref: string) => number, network: NetworkRouteDeps | undefined): boolean {
  for (const [key, values] of filters) {
    if (values.length === 0) continue;
    // Several labels must all hold (compose lists a project's containers by two labels);
    // several values of any other key are alternatives, as in Docker.
    if (key === 'label') {
      if (!labelsMatch(values, c.Config.Labels ?? undefined)) return false;
      continue;
    }
    const ok = values.some((v) => {
      switch (key) {
        case 'status':
          return c.State.Status === v;
        case 'name': {
          const re = filterRegExp(key, v);
          return re.test(c.Name.slice(1)) || re.test(c.Name);
        }
        case 'id':
          return c.Id.startsWith(v);
        case 'ancestor':
          return c.Config.Image === v || c.Image === imageIdOf(v) || c.Image.slice(7).startsWith(v);
        case 'exited':
          return c.State.Status === 'exited' && String(c.State.ExitCode) === v;
        case 'before':
          return Date.parse(c.Created) < createdOf(v);
        case 'since':
          return Date.parse(c.Created) > createdOf(v);
        case 'volume':
          // moby: a volume's name, a bind's host path, or any mount's destination.
          return volumesOfContainer(c).includes(v) || (c.Volumes ?? []).some((m) => m.target === v) || (c.Plan?.mounts ?? []).some((m) => m.target === v || (m.kind === 'bind' && m.source === v));
        case 'network':
          return onNetwork(c, v, network);
        case 'is-task':
          return v === 'false';
        case 'health':
          return healthFilterValue(c) === v;
        case 'isolation':
          return v === 'default';
        default:
          // publish / expose: moat's containers publish nothing yet.
          return false;
      }
    });
    if (!ok) return false;
  }
  return true;
}

const CONTAINER_STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
const HEALTH_STATES = ['starting', 'healthy', 'unhealthy', 'none'];

/** `starting`, `healthy`, `unhealthy` or `none` (no healthcheck), as the `health` filter sees it. */
function healthFilterValue(c: ContainerRecord): string {
  return c.State.Health?.Status ?? 'none';
}

/**
 * `docker update`'s body: the limits moat changes and the restart policy. The CLI sends every
 * resource field, most at their zero value; any other field set is a 400 naming it.
 */
function readUpdate(body: unknown): ContainerUpdate {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('update: the body must be a JSON object');
  const out: ContainerUpdate = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if ((UPDATE_RESOURCE_FIELDS as readonly string[]).includes(k)) {
      if (v === null || v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(`update: ${k} must be an integer`);
      out[k as (typeof UPDATE_RESOURCE_FIELDS)[number]] = v;
    } else if (k === 'RestartPolicy') {
      if (v === null || v === undefined) continue;
      if (typeof v !== 'object' || Array.isArray(v)) throw invalid('update: RestartPolicy must be an object');
      const rp = v as { Name?: unknown; MaximumRetryCount?: unknown };
      if (rp.Name !== undefined && typeof rp.Name !== 'string') throw invalid('update: RestartPolicy.Name must be a string');
      if (rp.MaximumRetryCount !== undefined && (typeof rp.MaximumRetryCount !== 'number' || !Number.isInteger(rp.MaximumRetryCount))) throw invalid('update: RestartPolicy.MaximumRetryCount must be an integer');
      // An empty name leaves the policy as it is (Docker's update).
      if (rp.Name) out.RestartPolicy = { Name: rp.Name, MaximumRetryCount: (rp.MaximumRetryCount as number | undefined) ?? 0 };
    } else if (isSet(v)) {
      throw invalid(`update: ${k} is not supported by moat (memory, memory-swap, memory-reservation, cpus, cpu-shares, cpu-quota, cpu-period, pids-limit and restart can be updated)`);
    }
  }
  return out;
}

function isSet(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.values(v as Record<string, unknown>).some(isSet);
  return true;
}

/** A filter value that is a regular expression (`name`); a bad one is the client's 400. */
function filterRegExp(key: string, v: string): RegExp {
  try {
    return new RegExp(v);
  } catch (err) {
    throw invalid(`invalid filter '${key}': ${(err as Error).message}`);
  }
}

export function registerContainerRoutes(r: Router, d: ContainerRouteDeps): void {
  const { engine, images } = d;
  // Attach sessions still streaming, per container. A wait answers only after they have
  // delivered the last output (or 2 s passed), as moby waits for its stream copiers before
  // reporting an exit: dockerode's run() reads the output after the wait.
  const streaming = new Map<string, Set<Promise<void>>>();
  const track = (id: string, ended: Promise<void>): void => {
    let set = streaming.get(id);
    if (!set) streaming.set(id, (set = new Set()));
    set.add(ended);
    void ended.then(() => {
      set.delete(ended);
      if (set.size === 0 && streaming.get(id) === set) streaming.delete(id);
    });
  };
  const drained = async (id: string): Promise<void> => {
    const set = streaming.get(id);
    if (!set || set.size === 0) return;
    await Promise.race([Promise.all([...set]), sleep(2000)]);
  };

  r.add('POST', '/containers/create', async (ctx) => {
    // The canonical request refused a body that is not application/json already.
    const { config, hostConfig, networkingConfig } = readContainerCreate(ctx.json());
    const name = ctx.query.get('name') ?? undefined;
    // `--platform`: the image must be of that platform (moby's check; a 404, on which the docker
    // CLI pulls that platform's image unless --pull=never). moat runs no other architecture.
    const platform = ctx.query.get('platform') ?? '';
    if (platform !== '') {
      const want = parsePlatform(platform);
      const img = images.find(config.Image);
      if (img !== undefined && !platformMatches(img.config, want)) {
        throw new EngineError('not-found', 'ERR_IMAGE_PLATFORM', `image with reference ${config.Image} was found but does not match the specified platform: wanted ${platformText(want)}, actual: ${platformText({ os: img.config.os, architecture: img.config.architecture })}`);
      }
    }
    // The daemon's --dns for containers that name no server.
    const dns = d.network?.defaultDns ?? [];
    if (dns.length > 0 && (hostConfig.Dns ?? []).length === 0) hostConfig.Dns = [...dns];
    const out = await engine.create({ ...(name ? { name } : {}), config, hostConfig, ...(networkingConfig ? { networkingConfig } : {}) });
    sendJson(ctx.res!, 201, out);
  });

  r.add('GET', '/containers/json', async (ctx) => {
    const all = boolParam(ctx.query, 'all');
    const filters = filtersParam(ctx.query);
    checkFilterKeys(filters, CONTAINER_LIST_FILTERS);
    for (const v of filters.get('status') ?? []) if (!CONTAINER_STATUSES.includes(v)) throw invalid(`invalid filter 'status=${v}'`);
    for (const v of filters.get('health') ?? []) if (!HEALTH_STATES.includes(v)) throw invalid(`Unrecognised filter value for health: ${v}`);
    for (const v of filters.get('exited') ?? []) if (!/^-?\d+$/.test(v)) throw invalid(`invalid filter 'exited=${v}': an exit code`);
    const limit = intParam(ctx.query, 'limit');
    const now = Date.now();
    let list = engine
      .list()
      // `ps -n N` / `--last` (limit) lists every state, as `ps -a`.
      .filter((c) => all || (limit !== undefined && limit > 0) || filters.has('status') || filters.has('exited') || c.State.Status === 'running' || c.State.Status === 'paused')
      .filter((c) => matchesFilters(c, filters, (ref) => images.find(ref)?.id, (ref) => Date.parse(engine.get(ref).Created), d.network))
      .sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created));
    if (limit !== undefined && limit > 0) list = list.slice(0, limit);
    const size = boolParam(ctx.query, 'size');
    sendJson(
      ctx.res!,
      200,
      await Promise.all(
        list.map(async (c) => {
          const summary = { ...containerSummary(c, now), ...(size ? await engine.sizes(c.Id) : {}) };
          if (d.network === undefined) return summary;
          const v = containerNetworkViews(d.network, c);
          return { ...summary, Ports: v.ports, NetworkSettings: { Networks: v.settings['Networks'] } };
        }),
      ),
    );
  });

  r.add('GET', '/containers/{id}/json', async (ctx) => {
    const c = engine.get(ctx.params['id']!);
    const view = containerInspect(c, { paths: engine.pathsOf(c), execIds: engine.execIdsOf(c.Id) });
    // moat: the last seccomp denials, explained (syscall, arguments, pid, command, rule).
    const denials = await engine.seccompDenials(c.Id, 20);
    if (view['Security'] && typeof view['Security'] === 'object') (view['Security'] as Record<string, unknown>)['SeccompDenials'] = denials;
    if (boolParam(ctx.query, 'size')) Object.assign(view, await engine.sizes(c.Id));
    if (d.network !== undefined) {
      const v = containerNetworkViews(d.network, c);
      view['NetworkSettings'] = v.settings;
      if (view['Security'] && typeof view['Security'] === 'object') (view['Security'] as Record<string, unknown>)['Network'] = v.security;
    }
    sendJson(ctx.res!, 200, view);
  });

  r.add('POST', '/containers/{id}/start', async (ctx) => {
    try {
      await engine.start(ctx.params['id']!);
    } catch (err) {
      if (isKind(err, 'not-modified')) return sendEmpty(ctx.res!, 304);
      throw err;
    }
    sendEmpty(ctx.res!, 204);
  });

  const stopLike = (action: 'stop' | 'restart') => async (ctx: RequestContext): Promise<void> => {
    const t = intParam(ctx.query, 't') ?? intParam(ctx.query, 'timeout');
    const signal = ctx.query.get('signal') ?? undefined;
    const opts = { ...(t !== undefined ? { timeout: t } : {}), ...(signal ? { signal } : {}) };
    try {
      if (action === 'stop') await engine.stop(ctx.params['id']!, opts);
      else await engine.restart(ctx.params['id']!, opts);
    } catch (err) {
      if (isKind(err, 'not-modified')) return sendEmpty(ctx.res!, 304);
      throw err;
    }
    sendEmpty(ctx.res!, 204);
  };
  r.add('POST', '/containers/{id}/stop', stopLike('stop'));
  r.add('POST', '/containers/{id}/restart', stopLike('restart'));

  r.add('POST', '/containers/{id}/kill', async (ctx) => {
    await engine.kill(ctx.params['id']!, ctx.query.get('signal') ?? undefined);
    sendEmpty(ctx.res!, 204);
  });

  r.add('POST', '/containers/{id}/pause', async (ctx) => {
    await engine.pause(ctx.params['id']!, true);
    sendEmpty(ctx.res!, 204);
  });
  r.add('POST', '/containers/{id}/unpause', async (ctx) => {
    await engine.pause(ctx.params['id']!, false);
    sendEmpty(ctx.res!, 204);
  });

  r.add('POST', '/containers/{id}/update', async (ctx) => {
    sendJson(ctx.res!, 200, { Warnings: await engine.update(ctx.params['id']!, readUpdate(ctx.json())) });
  });

  r.add('POST', '/containers/{id}/rename', async (ctx) => {
    const name = ctx.query.get('name');
    if (!name) throw invalid('name is required');
    await engine.rename(ctx.params['id']!, name);
    sendEmpty(ctx.res!, 204);
  });

  r.add('DELETE', '/containers/{id}', async (ctx) => {
    const c = engine.get(ctx.params['id']!);
    const removeVolumes = boolParam(ctx.query, 'v');
    await engine.remove(c.Id, { force: boolParam(ctx.query, 'force'), volumes: removeVolumes });
    sendEmpty(ctx.res!, 204);
  });

  // docker container prune: every stopped container, optionally by label or age (until=).
  r.add('POST', '/containers/prune', async (ctx) => {
    const filters = filtersParam(ctx.query);
    for (const k of filters.keys()) if (k !== 'label' && k !== 'label!' && k !== 'until') throw invalid(`invalid filter '${k}'`);
    // A timestamp or a Go duration before now (`until=24h`), as the image and network prunes.
    const until = (filters.get('until') ?? []).map((u) => parseFilterTime(u));
    const deleted: string[] = [];
    for (const c of engine.list()) {
      if (c.State.Status !== 'exited' && c.State.Status !== 'created' && c.State.Status !== 'dead') continue;
      const labels = c.Config.Labels ?? {};
      const has = (f: string): boolean => {
        const i = f.indexOf('=');
        return i < 0 ? f in labels : labels[f.slice(0, i)] === f.slice(i + 1);
      };
      if (!(filters.get('label') ?? []).every(has)) continue;
      if ((filters.get('label!') ?? []).some(has)) continue;
      if (until.some((u) => !(Date.parse(c.Created) < u))) continue;
      try {
        await engine.remove(c.Id, { force: false });
        engine.volumes.release(undefined, c.Id);
        deleted.push(c.Id);
      } catch (err) {
        if (!isKind(err, 'not-found') && !isKind(err, 'conflict')) throw err;
      }
    }
    sendJson(ctx.res!, 200, { ContainersDeleted: deleted, SpaceReclaimed: 0 });
  });

  r.add('GET', '/containers/{id}/stats', async (ctx) => {
    const c = engine.get(ctx.params['id']!);
    const stream = ctx.query.get('stream') === null || boolParam(ctx.query, 'stream', true);
    const oneShot = boolParam(ctx.query, 'one-shot');
    const res = ctx.res!;
    const sample = (): Promise<StatsSample> => engine.sampleStats(c.Id);
    let gone = false;
    res.on('close', () => (gone = true));
    if (!stream) {
      // The CLI gives up after 2 s: a real earlier sample for precpu_stats, 500 ms before.
      let prev: StatsSample | undefined;
      if (!oneShot) {
        prev = await sample();
        await sleep(500);
      }
      sendJson(res, 200, engine.statsView(c, await sample(), prev));
      return;
    }
    res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/json' });
    res.flushHeaders();
    let prev = await sample();
    await sleep(500);
    while (!gone) {
      const cur = await sample();
      if (gone) break;
      res.write(JSON.stringify(engine.statsView(c, cur, prev)) + '\n');
      prev = cur;
      if (engine.find(c.Id) === undefined) break;
      await sleep(1000);
    }
    if (!res.writableEnded) res.end();
  });

  r.add('GET', '/containers/{id}/export', async (ctx) => {
    const c = engine.get(ctx.params['id']!);
    const res = ctx.res!;
    await engine.withRootfs(c.Id, async (dir) => {
      res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/x-tar' });
      // Under --userns-remap the rootfs holds host ids: the tar carries the container's, as dockerd's.
      await pipeToClient(exportTree(dir, images.idShift ? { unshift: images.idShift } : {}), res);
    }, { asCreated: true });
  });

  // docker cp out of a container: HEAD stats the path, GET sends it as a tar. The path is
  // resolved by the engine as the container sees it (rootfs, volumes, binds, tmpfs); a
  // stopped container's rootfs is mounted for the copy, as for export.
  const pathStatHeader = (stat: ContainerPathStat): string => Buffer.from(JSON.stringify(stat)).toString('base64');
  r.add('HEAD', '/containers/{id}/archive', async (ctx) => {
    const c = engine.get(ctx.params['id']!);
    const stat = await engine.withContainerView(c.Id, async (view) => statContainerPath(view, ctx.query.get('path') ?? '', ctx.params['id']!));
    ctx.res!.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/json', 'X-Docker-Container-Path-Stat': pathStatHeader(stat) });
    ctx.res!.end();
  });
  r.add('GET', '/containers/{id}/archive', async (ctx) => {
    const c = engine.get(ctx.params['id']!);
    const res = ctx.res!;
    await engine.withContainerView(c.Id, async (view) => {
      const { stat, stream } = archiveContainerPath(view, ctx.query.get('path') ?? '', ctx.params['id']!);
      res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/x-tar', 'X-Docker-Container-Path-Stat': pathStatHeader(stat) });
      await pipeToClient(stream, res);
    });
  });

  const CP_UPLOAD_IDLE_MS = 60_000;
  // docker cp into a container: the body is the tar, streamed (never buffered; plugins do not
  // see it, as with dockerd). The engine resolves the directory as the container sees it
  // (mounts included), refuses a read-only one and extracts through the safe extractor; a
  // stopped container's rootfs is mounted for the copy.
  r.add('PUT', '/containers/{id}/archive', async (ctx) => {
    const ref = ctx.params['id']!;
    try {
      const c = engine.get(ref);
      const path = ctx.query.get('path') ?? '';
      // Owners as the container's root sees them: shifted unless it opted out of the remap (--userns=host).
      const opts = { container: ref, copyUidGid: boolParam(ctx.query, 'copyUIDGID'), noOverwriteDirNonDir: boolParam(ctx.query, 'noOverwriteDirNonDir'), idShift: c.HostConfig.UsernsMode === 'host' ? undefined : images.idShift };
      // A client that stops sending must not hold a stopped container's rootfs (and its lock).
      ctx.req.setTimeout(CP_UPLOAD_IDLE_MS, () => ctx.req.destroy(new Error(`no data for ${CP_UPLOAD_IDLE_MS / 1000} s`)));
      await engine.withContainerView(c.Id, (view) => extractIntoContainer(view, path, ctx.req, opts));
    } catch (err) {
      // Refused before (or while) reading: drop the rest so the client can read the answer.
      ctx.req.resume();
      throw err;
    } finally {
      if (ctx.req.socket !== null) ctx.req.setTimeout(0);
    }
    sendEmpty(ctx.res!, 200);
  });

  r.add('GET', '/containers/{id}/changes', async (ctx) => {
    await engine.makeCreatedWorkdir(ctx.params['id']!);
    const { upper, lowers } = engine.layersOf(ctx.params['id']!);
    sendJson(ctx.res!, 200, hideRuntimeChanges(await diffTree(upper, lowers)));
  });

  r.add('POST', '/containers/{id}/wait', async (ctx) => {
    const cond = ctx.query.get('condition') || 'not-running';
    if (cond !== 'not-running' && cond !== 'next-exit' && cond !== 'removed') throw invalid(`invalid condition: ${JSON.stringify(cond)}`);
    const waiting = engine.wait(ctx.params['id']!, cond as WaitCondition);
    // Headers go out at once: the docker CLI sends `start` only after it has them.
    const res = ctx.res!;
    res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/json' });
    res.flushHeaders();
    let gone = false;
    res.on('close', () => (gone = true));
    const id = engine.find(ctx.params['id']!)?.Id;
    const result = await waiting;
    if (id) await drained(id);
    if (!gone) res.end(JSON.stringify(result) + '\n');
  });

  r.add('POST', '/containers/{id}/resize', async (ctx) => {
    await engine.resize(ctx.params['id']!, intParam(ctx.query, 'h') ?? 0, intParam(ctx.query, 'w') ?? 0);
    ctx.res!.writeHead(200, { ...commonHeaders(), 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 0 });
    ctx.res!.end();
  });

  r.add('GET', '/containers/{id}/top', async (ctx) => {
    // With ps_args, as moby: the host's ps with those options, the container's rows.
    sendJson(ctx.res!, 200, await engine.top(ctx.params['id']!, ctx.query.get('ps_args') ?? ''));
  });

  r.add('POST', '/containers/{id}/attach', async (ctx) => {
    const c = engine.get(ctx.params['id']!);
    const q = ctx.query;
    const stdin = boolParam(q, 'stdin');
    const stdout = boolParam(q, 'stdout');
    const stderr = boolParam(q, 'stderr');
    const logs = boolParam(q, 'logs');
    const stream = boolParam(q, 'stream');
    const tty = c.Config.Tty === true;
    const bodyLength = Number(ctx.req.headers['content-length'] ?? 0);
    const client = openClientStream(ctx, { multiplexed: !tty, bodyLength: ctx.upgrade ? bodyLength : 0 });
    const send = (s: 1 | 2, data: Buffer): void => void client.write(tty ? data : frame(s, data));
    if (logs && engine.logPath(c) !== '') {
      // The log so far, streamed: a slow client pauses the read, a client that leaves ends it.
      const ac = new AbortController();
      client.onClose(() => ac.abort());
      const files = await engine.openLogs(c);
      try {
        const out = batchedLogWriter((chunk) => client.write(chunk), { raw: tty });
        await streamLogs(files.files, { query: { stdout, stderr }, sink: { write: (e) => out.write(e), flush: () => out.flush(), drain: () => client.drain(), signal: ac.signal } });
        out.flush();
      } finally {
        await files.close();
      }
    }
    if (!stream) {
      client.end();
      return;
    }
    const session = await engine.attach(c.Id, { stdin, stdout, stderr }, { output: send, end: () => client.end() });
    track(c.Id, new Promise<void>((resolve) => session.onEnded(resolve)));
    if (!ctx.upgrade && bodyLength > 0) {
      // dockerode sends its options as a JSON body on a plain attach: never stdin.
      let skip = bodyLength;
      client.onInput((data) => {
        if (skip > 0) {
          const n = Math.min(skip, data.length);
          skip -= n;
          data = data.subarray(n);
        }
        if (data.length > 0) session.writeStdin(data);
      });
    } else client.onInput((data) => session.writeStdin(data));
    client.onInputEnd(() => session.clientEof());
    client.onClose(() => session.finish());
  });

  r.add('GET', '/containers/{id}/logs', async (ctx) => {
    const c = engine.get(ctx.params['id']!);
    const q = ctx.query;
    const stdout = boolParam(q, 'stdout');
    const stderr = boolParam(q, 'stderr');
    if (!stdout && !stderr) throw invalid('Bad parameters: you must choose at least one stream');
    const follow = boolParam(q, 'follow');
    const timestamps = boolParam(q, 'timestamps');
    // moby puts the entry's attributes and a space before the line; moat's entries have none.
    const details = boolParam(q, 'details');
    const tailRaw = q.get('tail');
    const tail = tailRaw === null || tailRaw === '' || tailRaw === 'all' ? undefined : Number(tailRaw);
    if (tail !== undefined && !Number.isInteger(tail)) throw invalid(`invalid value for tail: ${JSON.stringify(tailRaw)}`);
    const sinceNs = timeParamNs(q, 'since');
    const untilNs = timeParamNs(q, 'until');
    const tty = c.Config.Tty === true;
    const res = ctx.res!;
    // Before any header: a container without a readable log is an error reply (501).
    const files = await engine.openLogs(c);
    try {
      res.writeHead(200, { ...commonHeaders(), 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
      // Headers go out at once: a follower of a quiet container must not hang before the first line.
      res.flushHeaders();
      const ac = new AbortController();
      res.on('close', () => ac.abort());
      const prefix = timestamps || details ? { prefix: (t: string) => `${timestamps ? `${dockerTimestamp(t)} ` : ''}${details ? ' ' : ''}` } : {};
      const out = batchedLogWriter((chunk) => (res.destroyed ? true : res.write(chunk)), { raw: tty, ...prefix });
      const sink: LogSink = { write: (e: LogEntry) => out.write(e), flush: () => out.flush(), drain: () => drainOf(res), signal: ac.signal };
      const query = { stdout, stderr, ...(sinceNs !== undefined ? { sinceNs } : {}), ...(untilNs !== undefined ? { untilNs } : {}), ...(tail !== undefined && tail >= 0 ? { tail } : {}) };
      const end = await streamLogs(files.files, { query, sink });
      if (end !== undefined && follow && untilNs === undefined && engine.isRunning(c.Id)) {
        await followLogs(files.files[end.file]!, {
          offset: end.offset,
          query,
          sink,
          stopped: () => !engine.isRunning(c.Id),
          successors: (ino) => files.successors(ino),
          currentIno: () => files.currentIno(),
        });
      }
    } finally {
      await files.close();
    }
    if (!res.destroyed) res.end();
  });

  r.add('POST', '/containers/{id}/exec', async (ctx) => {
    const raw = ctx.json();
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('exec config cannot be empty');
    const read = readRequest(execConfigSchema, raw);
    if (!read.ok) throw invalid(issuesText(read.issues));
    const body = read.value;
    if (!body.Cmd || body.Cmd.length === 0) throw invalid('No exec command specified');
    const id = engine.execCreate(ctx.params['id']!, {
      Cmd: body.Cmd,
      Env: body.Env ?? null,
      User: body.User ?? '',
      WorkingDir: body.WorkingDir ?? '',
      Tty: body.Tty === true,
      AttachStdin: body.AttachStdin === true,
      AttachStdout: body.AttachStdout !== false,
      AttachStderr: body.AttachStderr !== false,
      Privileged: body.Privileged === true,
      DetachKeys: body.DetachKeys ?? '',
      ConsoleSize: body.ConsoleSize ?? null,
    });
    sendJson(ctx.res!, 201, { Id: id });
  });
}

export function registerExecRoutes(r: Router, d: { engine: Engine }): void {
  const { engine } = d;

  r.add('POST', '/exec/{id}/start', async (ctx) => {
    const rec = engine.getExec(ctx.params['id']!);
    const raw = await ctx.body();
    const read = readRequest(execStartSchema, ctx.json() ?? {});
    if (!read.ok) throw invalid(issuesText(read.issues));
    const body = read.value;
    if (body.Detach === true) {
      await engine.execStart(rec.ID, undefined);
      sendEmpty(ctx.res!, 200);
      return;
    }
    const tty = rec.Tty;
    const client = openClientStream(ctx, { multiplexed: !tty, bodyLength: raw.length });
    const send = (s: 1 | 2, data: Buffer): void => void client.write(tty ? data : frame(s, data));
    await engine.execStart(rec.ID, { output: send, end: () => client.end() }, {
      onSession: (session) => {
        let skip = ctx.upgrade ? 0 : raw.length;
        client.onInput((data) => {
          if (skip > 0) {
            const n = Math.min(skip, data.length);
            skip -= n;
            data = data.subarray(n);
          }
          if (data.length > 0) session.writeStdin(data);
        });
        client.onInputEnd(() => session.clientEof());
        client.onClose(() => session.finish());
      },
    });
  });

  r.add('POST', '/exec/{id}/resize', async (ctx) => {
    await engine.execResize(ctx.params['id']!, intParam(ctx.query, 'h') ?? 0, intParam(ctx.query, 'w') ?? 0);
    ctx.res!.writeHead(200, { ...commonHeaders(), 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 0 });
    ctx.res!.end();
  });

  r.add('GET', '/exec/{id}/json', async (ctx) => {
    const e = engine.getExec(ctx.params['id']!);
    sendJson(ctx.res!, 200, {
      ID: e.ID,
      Running: e.Running,
      ExitCode: e.ExitCode,
      ProcessConfig: { tty: e.Tty, entrypoint: e.Cmd[0], arguments: e.Cmd.slice(1), privileged: e.Privileged, user: e.User },
      OpenStdin: e.OpenStdin,
      OpenStderr: e.OpenStderr,
      OpenStdout: e.OpenStdout,
      CanRemove: e.CanRemove,
      ContainerID: e.ContainerID,
      DetachKeys: e.DetachKeys,
      Pid: e.Pid,
    });
  });
}

export { EngineError };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** conmon's `2026-11-29T01:23:59.385110897+00:00` -> Docker's `2026-11-29T01:23:59.385110897Z` (UTC, 9 digits). */
export function dockerTimestamp(t: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return t;
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  if (m[3] === 'Z' || m[3] === '+00:00' || m[3] === '-00:00') return `${m[1]}.${frac}Z`;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

/**
 * Mount points runc creates in the upper dir (/etc/hosts, /dev, /proc, ...) are not the
 * user's changes; Docker keeps them in its init layer, so `docker diff` never shows them.
 */
const RUNTIME_PATHS = new Set(['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/dev', '/proc', '/sys', '/.dockerenv', '/etc/mtab']);

export function hideRuntimeChanges<T extends { Path: string; Kind: number }>(changes: readonly T[]): T[] {
  const isRuntime = (p: string): boolean => RUNTIME_PATHS.has(p) || p.startsWith('/dev/') || p.startsWith('/proc/') || p.startsWith('/sys/');
  const kept = changes.filter((ch) => !isRuntime(ch.Path));
  // A directory reported only because runc touched its children is not a change either.
  return kept.filter((ch) => {
    if (ch.Kind !== 0 || (ch.Path !== '/etc' && ch.Path !== '/')) return true;
    const below = kept.some((o) => o.Path.startsWith(`${ch.Path}/`));
    const runtimeBelow = changes.some((o) => o.Path.startsWith(`${ch.Path}/`) && isRuntime(o.Path));
    return below || !runtimeBelow;
  });
}
