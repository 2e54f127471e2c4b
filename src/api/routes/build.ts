// POST /build (the classic builder), POST /commit, and BuildKit's /session and /grpc, which
// moat answers with a clear error. A build streams dockerd's JSON messages; errors before the
// first message are plain HTTP errors, after it an `errorDetail` line, as dockerd.
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { EngineError, errorText, invalid, type Logger } from '../../base/index.js';
import type { Engine, HostConfig } from '../../engine/index.js';
import { applyChanges, familiarName, parseReference, type ImageRuntimeConfig, type ImageService, type ImageStore, type ProgressMessage } from '../../image/index.js';
import type { BuildCache, BuildMessage, BuildOptions, EngineExecutor } from '../../build/index.js';
import { boolParam, intParam } from '../params.js';
import type { Router } from '../router.js';
import { commonHeaders, sendJson } from '../reply.js';

export interface BuildRouteDeps {
  engine: Engine;
  images: ImageStore;
  service?: ImageService;
  arch: string;
  log: Logger;
}

function jsonParam<T>(q: URLSearchParams, name: string, check: (v: unknown) => v is T): T | undefined {
  const raw = q.get(name);
  if (raw === null || raw === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw invalid(`invalid ${name}: ${(err as Error).message}`);
  }
  if (!check(v)) throw invalid(`invalid ${name}: ${raw}`);
  return v;
}

const isStringMap = (v: unknown): v is Record<string, string | null> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string' || x === null);

/** The RUN containers' HostConfig from the build query: network (none unless asked) and limits. */
export function buildHostConfig(q: URLSearchParams): { host: HostConfig; network: boolean } {
  const mode = (q.get('networkmode') ?? '').trim();
  let NetworkMode: string;
  if (mode === '' || mode === 'default') NetworkMode = 'none';
  else if (mode.startsWith('container:')) throw invalid(`networkmode ${mode} is not supported for builds: use none, bridge, host or a network name`);
  else NetworkMode = mode;
  const host: HostConfig = { NetworkMode };
  const set = (k: keyof HostConfig, v: unknown): void => {
    if (v !== undefined) (host as Record<string, unknown>)[k] = v;
  };
  set('Memory', intParam(q, 'memory'));
  set('MemorySwap', intParam(q, 'memswap'));
  set('CpuShares', intParam(q, 'cpushares'));
  set('CpuPeriod', intParam(q, 'cpuperiod'));
  set('CpuQuota', intParam(q, 'cpuquota'));
  set('ShmSize', intParam(q, 'shmsize'));
  const cpuset = q.get('cpusetcpus');
  if (cpuset) set('CpusetCpus', cpuset);
  const extra = q.getAll('extrahosts').flatMap((h) => h.split(',')).filter((h) => h !== '');
  if (extra.length > 0) set('ExtraHosts', extra);
  if ((q.get('cgroupparent') ?? '') !== '') throw invalid('cgroupparent is not supported for builds: step containers always nest under moatd\'s cgroup');
  const iso = q.get('isolation') ?? '';
  if (iso !== '' && iso !== 'default') throw invalid(`invalid isolation: ${iso}`);
  return { host, network: NetworkMode !== 'none' };
}

type BuildModule = typeof import('../../build/index.js');

// The builder (build/, ~1 MiB of moatd's RSS: docs/performance.md, phase C part 3) is loaded
// on the first build or commit; a daemon that never builds never loads it.
let buildModule: Promise<BuildModule> | undefined;
function loadBuildModule(): Promise<BuildModule> {
  return (buildModule ??= import('../../build/index.js'));
}

/** The build's output: headers with the first message; quiet keeps it all back until the end. */
function buildStream(res: ServerResponse, quiet: boolean, log: Logger, requestId: string, { errorLine, StepFailed }: BuildModule) {
  let started = false;
  const held: BuildMessage[] = [];
  const write = (m: BuildMessage | ProgressMessage): void => {
    if (!started) {
      started = true;
      res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/json' });
      res.flushHeaders();
    }
    // Go's encoder escapes <, > and & in strings; the stream matches dockerd's byte for byte.
    if (!res.destroyed && !res.writableEnded) res.write(JSON.stringify(m).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`) + '\r\n');
  };
  return {
    send: (m: BuildMessage): void => {
      if (quiet) held.push(m);
      else write(m);
    },
    gone: (): boolean => res.destroyed,
    success(id: string): void {
      if (quiet) write({ stream: `${id}\n` });
      if (!res.writableEnded) res.end();
    },
    fail(err: unknown): void {
      // Before any output an error is a plain HTTP error (the CLI prints it as dockerd's).
      if (!started && held.length === 0) throw err;
      for (const m of held) write(m);
      let message: string;
      if (err instanceof EngineError && err.kind !== 'internal') message = err.message;
      else {
        log.error({ requestId, err: errorText(err) }, 'build failed');
        message = `Internal error, see daemon log for request ${requestId}`;
      }
      write(errorLine(message, err instanceof StepFailed ? err.exitCode : undefined));
      if (!res.writableEnded) res.end();
    },
  };
}

function buildOptions(q: URLSearchParams): BuildOptions {
  const tags = q.getAll('t').filter((t) => t !== '');
  for (const t of tags) parseReference(t);
  const args = jsonParam(q, 'buildargs', isStringMap) ?? {};
  const labels = jsonParam(q, 'labels', (v): v is Record<string, string> => isStringMap(v) && Object.values(v).every((x) => typeof x === 'string')) ?? {};
  if (boolParam(q, 'squash')) throw invalid('squash is only supported with experimental mode');
  const platform = q.get('platform') ?? '';
  const { host, network } = buildHostConfig(q);
  return {
    tags,
    buildArgs: new Map(Object.entries(args)),
    labels,
    noCache: boolParam(q, 'nocache'),
    // Docker keeps a failed step's container unless forcerm; moat removes step containers
    // whenever rm is on (the default), so a failed build leaves nothing behind.
    rm: boolParam(q, 'rm', true) || boolParam(q, 'forcerm'),
    target: q.get('target') ?? '',
    host,
    pull: boolParam(q, 'pull'),
    network,
    ...(platform !== '' ? {} : {}),
  };
}

/** The image config a commit starts from: the container's config (which holds the image's) and what only the image has. */
function containerImageConfig(engine: Engine, images: ImageStore, ref: string): ImageRuntimeConfig {
  const c = engine.get(ref);
  const image = images.find(c.Image);
  const ic = (image?.config.config ?? {}) as Record<string, unknown>;
  const cc = c.Config;
  const out: Record<string, unknown> = {
    ...ic,
    Cmd: cc.Cmd ?? null,
    Entrypoint: cc.Entrypoint ?? null,
    Env: cc.Env ?? null,
    WorkingDir: cc.WorkingDir ?? '',
    User: cc.User ?? '',
    Labels: cc.Labels ?? null,
  };
  if (cc.ExposedPorts) out['ExposedPorts'] = cc.ExposedPorts;
  if (cc.Volumes) out['Volumes'] = cc.Volumes;
  if (cc.StopSignal) out['StopSignal'] = cc.StopSignal;
  return out as ImageRuntimeConfig;
}

const COMMIT_FIELDS = ['Cmd', 'Entrypoint', 'Env', 'WorkingDir', 'User', 'Labels', 'ExposedPorts', 'Volumes', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell'] as const;

export function registerBuildRoutes(r: Router, deps: BuildRouteDeps): void {
  const { engine, service, log } = deps;
  const images = deps.images;
  // One cache and one executor for all builds, made with the module.
  let tools: Promise<{ m: BuildModule; cache: BuildCache; executor: EngineExecutor }> | undefined;
  const buildTools = (): Promise<{ m: BuildModule; cache: BuildCache; executor: EngineExecutor }> =>
    (tools ??= loadBuildModule().then((m) => ({ m, cache: new m.BuildCache(images, log), executor: new m.EngineExecutor(engine, images, log) })));

  r.add('POST', '/build', async (ctx) => {
    const q = ctx.query;
    if (q.get('version') === '2') {
      throw new EngineError('not-implemented', 'ERR_BUILD_BUILDKIT', 'moat has no BuildKit: use the classic builder (DOCKER_BUILDKIT=0 docker build …)');
    }
    const opts = buildOptions(q);
    const platform = q.get('platform') ?? '';
    if (platform !== '' && platform !== `linux/${deps.arch}` && platform !== 'linux') throw invalid(`moat builds for linux/${deps.arch} only: --platform ${platform} is not supported`);
    const remote = q.get('remote') ?? '';
    let body: Readable = ctx.req;
    if (remote !== '') {
      ctx.req.resume();
      if (!/^https?:\/\//i.test(remote)) throw invalid(`remote build contexts other than http(s) URLs are not supported: ${remote}`);
      if (!opts.network) throw invalid('a remote build context needs network access, and this build has none (--network none is moat\'s default): build with --network bridge or host, or send the context');
      const res = await fetch(remote, { redirect: 'follow' }).catch((err: unknown) => {
        throw invalid(`cannot fetch the remote build context ${remote}: ${errorText(err)}`);
      });
      if (!res.ok || res.body === null) throw invalid(`cannot fetch the remote build context ${remote}: HTTP ${res.status}`);
      body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    }
    const { m, cache, executor } = await buildTools();
    const context = await m.prepareContext(body, { workDir: images.tmpPath('build'), dockerfile: q.get('dockerfile') ?? '' });
    const stream = buildStream(ctx.res!, boolParam(q, 'q'), log, ctx.requestId, m);
    try {
      const builder = new m.Builder(context, opts, {
        images,
        executor,
        cache,
        arch: deps.arch,
        log,
        ...(service
          ? {
              pull: async (ref: string, emit: (m: BuildMessage) => void) => {
                const parsed = parseReference(ref);
                const result = await service.pull(parsed.tag === undefined && parsed.digest === undefined ? { ...parsed, tag: 'latest' } : parsed, { creds: {}, progress: (m) => emit(m as BuildMessage) });
                engine.events.emit('image', 'pull', result.image.id, { name: result.shown });
                return result.image;
              },
            }
          : {}),
      }, stream.send, stream.gone);
      const image = await builder.build();
      for (const t of image.repoTags) engine.events.emit('image', 'tag', image.id, { name: t });
      stream.success(image.id);
    } catch (err) {
      stream.fail(err);
    } finally {
      await context.remove().catch((err: unknown) => log.warn({ err: errorText(err) }, 'cannot remove a build context'));
    }
  });

  // docker commit: the container's changes as a new image.
  r.add('POST', '/commit', async (ctx) => {
    const q = ctx.query;
    const ref = q.get('container') ?? '';
    if (ref === '') throw invalid('No container specified');
    const body = ctx.json();
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) throw invalid('invalid commit body: expected a container config object');
    let config = containerImageConfig(engine, images, ref);
    const given = (body ?? {}) as Record<string, unknown>;
    for (const k of COMMIT_FIELDS) if (given[k] !== undefined && given[k] !== null) (config as Record<string, unknown>)[k] = given[k];
    config = applyChanges(config, q.getAll('changes').flatMap((c) => c.split('\n')).filter((c) => c.trim() !== ''));
    const repo = q.get('repo') ?? '';
    const tag = q.get('tag') ?? '';
    const name = repo === '' ? undefined : familiarName(parseReference(tag !== '' ? `${repo}:${tag}` : repo));
    const c = engine.get(ref);
    const comment = q.get('comment') ?? '';
    const author = q.get('author') ?? '';
    const { commitContainer } = await loadBuildModule();
    const image = await commitContainer(engine, images, {
      container: c.Id,
      config,
      createdBy: [...(c.Path ? [c.Path] : []), ...c.Args].join(' '),
      pause: boolParam(q, 'pause', true),
      ...(comment !== '' ? { comment } : {}),
      ...(author !== '' ? { author } : {}),
    });
    if (name !== undefined) await images.tag(image.id, name);
    engine.events.emit('container', 'commit', c.Id, { comment, imageID: image.id, imageRef: name ?? '', name: c.Name.slice(1) });
    sendJson(ctx.res!, 201, { Id: image.id });
  });

  // BuildKit's session and gRPC endpoints (docker buildx): not here.
  const noBuildKit = async (): Promise<void> => {
    throw new EngineError('not-implemented', 'ERR_BUILD_BUILDKIT', 'moat has no BuildKit: use the classic builder (DOCKER_BUILDKIT=0 docker build …)');
  };
  r.add('POST', '/session', noBuildKit);
  r.add('POST', '/grpc', noBuildKit);
}
