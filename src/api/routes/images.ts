// /images/* routes and /auth. Image names may contain '/', so name patterns take the rest of
// the path. Progress streams (pull, push, load) answer plain HTTP errors until their first
// line, then report failures in the stream, as dockerd does.
import os from 'node:os';
import type { ServerResponse } from 'node:http';
import { EngineError, errorText, invalid, type Logger } from '../../base/index.js';
import type { Engine } from '../../engine/index.js';
import {
  checkFilterKeys,
  checkSavable,
  credentialsFromAuthConfig,
  decodeRegistryAuth,
  errorMessage,
  familiarName,
  filterImages,
  historyRows,
  labelsMatch,
  loadImages,
  loginDomain,
  parseFilterTime,
  parsePlatform,
  parseReference,
  saveImages,
  IMAGE_PRUNE_FILTERS,
  type ImageService,
  type ImageStore,
  type ProgressMessage,
  type SaveItem,
} from '../../image/index.js';
import { boolParam, filtersParam } from '../params.js';
import type { Router } from '../router.js';
import { commonHeaders, compareVersions, sendJson } from '../reply.js';
import { imageInspect, imageSummary } from '../views.js';

export function goArch(): string {
  const a = os.arch();
  return a === 'x64' ? 'amd64' : a;
}

export interface ImageRouteDeps {
  engine: Engine;
  images: ImageStore;
  /** Registry, archives and trust; absent in tests that only need the local store. */
  service?: ImageService;
  log: Logger;
}

/**
 * A JSON progress stream on `res`: headers go out with the first line; `fail` reports an error
 * as an HTTP error before that, or as an `errorDetail` line after. Writes after the client
 * went away are dropped (the operation itself runs to its end).
 */
function progressStream(res: ServerResponse, log: Logger, requestId: string): { send: (m: ProgressMessage) => void; started: () => boolean; end: () => void; fail: (err: unknown) => void } {
  let started = false;
  const start = (): void => {
    if (started) return;
    started = true;
    res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/json' });
    res.flushHeaders();
  };
  const send = (m: ProgressMessage): void => {
    start();
    if (!res.destroyed && !res.writableEnded) res.write(JSON.stringify(m) + '\n');
  };
  return {
    send,
    started: () => started,
    end: () => {
      start();
      if (!res.writableEnded) res.end();
    },
    fail: (err) => {
      if (!started) throw err;
      let message: string;
      if (err instanceof EngineError && err.kind !== 'internal') message = err.message;
      else {
        log.error({ requestId, err: errorText(err) }, 'streamed request failed');
        message = `Internal error, see daemon log for request ${requestId}`;
      }
      send(errorMessage(message));
      if (!res.writableEnded) res.end();
    },
  };
}

function requireService(s: ImageService | undefined): ImageService {
  if (!s) throw new EngineError('not-implemented', 'ERR_PULL_UNSUPPORTED', 'this daemon was built without registry support');
  return s;
}

/** `fromImage` + `tag` (a tag, or a digest the CLI sends as the tag) -> a reference. */
function pullReference(fromImage: string, tag: string): ReturnType<typeof parseReference> {
  const ref = parseReference(fromImage);
  if (tag !== '') {
    if (/^sha256:[a-f0-9]{64}$/.test(tag)) return { repo: ref.repo, digest: tag };
    if (ref.digest !== undefined) throw invalid(`invalid reference format: ${fromImage}:${tag}`);
    return { repo: ref.repo, tag: parseReference(`${ref.repo}:${tag}`).tag ?? tag };
  }
  if (ref.tag === undefined && ref.digest === undefined) return { repo: ref.repo, tag: 'latest' };
  return ref;
}

function header(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[v.length - 1] : v;
}

export function registerImageRoutes(r: Router, deps: ImageRouteDeps): void {
  const { engine, images, service, log } = deps;

  r.add('GET', '/images/json', async (ctx) => {
    const filters = filtersParam(ctx.query);
    const counts = new Map<string, number>();
    for (const c of engine.list()) counts.set(c.Image, (counts.get(c.Image) ?? 0) + 1);
    const listed = filterImages(images.list(), filters, (ref) => images.get(ref), { all: boolParam(ctx.query, 'all'), hasChildren: (id) => images.childrenOf(id).length > 0 });
    listed.sort((a, b) => Date.parse(b.image.config.created) - Date.parse(a.image.config.created));
    sendJson(ctx.res!, 200, listed.map((l) => imageSummary({ ...l.image, repoTags: l.repoTags, repoDigests: l.repoDigests }, counts.get(l.image.id) ?? 0)));
  });

  // docker image prune: dangling images (untagged, no image built on them) no container uses,
  // each with the untagged parents only it kept (a build's steps); -a (dangling=false): every
  // unused image, children before parents (passes until nothing more goes); until and label
  // narrow it.
  r.add('POST', '/images/prune', async (ctx) => {
    const filters = filtersParam(ctx.query);
    checkFilterKeys(filters, IMAGE_PRUNE_FILTERS);
    const danglingOnly = !['false', '0'].includes((filters.get('dangling') ?? ['true'])[0] ?? 'true');
    const until = (filters.get('until') ?? []).map((u) => parseFilterTime(u));
    const labels = filters.get('label') ?? [];
    const notLabels = filters.get('label!') ?? [];
    const out: Array<Record<string, string>> = [];
    let reclaimed = 0;
    const layerSizes = new Map(images.list().flatMap((x) => x.config.rootfs.diff_ids.map((d) => [d, images.layerSize(d)] as const)));
    // -a removes children before their parents: repeat while a pass removed something.
    for (let again = true; again; ) {
      again = false;
      for (const i of images.list()) {
        if (images.find(i.id) === undefined) continue; // went with a child this pass
        if (danglingOnly && (i.repoTags.length > 0 || images.childrenOf(i.id).length > 0)) continue;
        if (engine.containerUsingImage(i.id) !== undefined) continue;
        const created = Date.parse(i.config.created);
        if (until.some((u) => !(created < u))) continue;
        const imgLabels = i.config.config.Labels ?? {};
        if (!labelsMatch(labels, imgLabels)) continue;
        if (notLabels.some((l) => labelsMatch([l], imgLabels))) continue;
        try {
          const removed = await images.remove(i.id, { force: true, usedBy: (id) => engine.containerUsingImage(id) });
          for (const item of removed) {
            const d = item['Deleted'];
            if (d === undefined) continue;
            if (layerSizes.has(d)) reclaimed += layerSizes.get(d) ?? 0;
            else engine.events.emit('image', 'delete', d, { name: d });
          }
          out.push(...removed);
          again ||= !danglingOnly && removed.some((item) => item['Deleted'] === i.id);
        } catch (err) {
          if (!(err instanceof EngineError) || err.kind === 'internal') throw err;
        }
      }
    }
    sendJson(ctx.res!, 200, { ImagesDeleted: out.length > 0 ? out : null, SpaceReclaimed: reclaimed });
  });

  // docker save: one image, or several with repeated `names`.
  const save = async (names: string[], res: ServerResponse): Promise<void> => {
    if (names.length === 0) throw invalid('no image names given to save');
    const items: SaveItem[] = [];
    for (const n of names) {
      const isId = /^(sha256:)?[a-f0-9]{4,64}$/.test(n) && images.find(n)?.id.slice(7).startsWith(n.replace(/^sha256:/, '')) === true;
      if (isId) {
        items.push({ image: images.get(n), tags: [] });
        continue;
      }
      const ref = parseReference(n);
      if (ref.tag === undefined && ref.digest === undefined) {
        // A bare repository name saves all of its tags, as dockerd.
        const tagged = images.list().flatMap((i) => i.repoTags.filter((t) => t.startsWith(`${ref.repo}:`)).map((t) => ({ image: i, tags: [t] })));
        if (tagged.length > 0) {
          items.push(...tagged);
          continue;
        }
      }
      const image = images.get(n);
      items.push({ image, tags: ref.digest === undefined ? [familiarName(ref)] : [] });
    }
    checkSavable(images, items);
    res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/x-tar' });
    try {
      await saveImages(images, items, res);
    } catch (err) {
      log.warn({ err: errorText(err) }, 'image save failed after the response began');
      res.destroy();
      return;
    }
    for (const it of items) engine.events.emit('image', 'save', it.image.id, { name: it.tags[0] ?? it.image.id });
  };
  r.add('GET', '/images/get', async (ctx) => {
    await save(ctx.query.getAll('names').flatMap((n) => n.split(',')).filter((n) => n !== ''), ctx.res!);
  });
  r.add('GET', '/images/{name*}/get', async (ctx) => {
    await save([ctx.params['name']!], ctx.res!);
  });

  // docker load: docker-archive or OCI layout; `quiet` sends only the `Loaded image` lines.
  r.add('POST', '/images/load', async (ctx) => {
    const stream = progressStream(ctx.res!, log, ctx.requestId);
    const quiet = boolParam(ctx.query, 'quiet');
    try {
      const result = await loadImages(images, ctx.req, { progress: stream.send, quiet, log });
      for (const it of result.images) engine.events.emit('image', 'load', it.image.id, { name: it.tags[0] ?? it.image.id });
      stream.end();
    } catch (err) {
      stream.fail(err);
    }
  });

  r.add('GET', '/images/{name*}/json', async (ctx) => {
    const image = images.get(ctx.params['name']!);
    sendJson(ctx.res!, 200, imageInspect(image, images.parentOf(image.id), { below144: compareVersions(ctx.version, '1.44') < 0 }));
  });

  r.add('GET', '/images/{name*}/history', async (ctx) => {
    const i = images.get(ctx.params['name']!);
    sendJson(ctx.res!, 200, historyRows(i, (d) => images.layerSize(d)));
  });

  // moat's own: the trust policy's verdict for running an image (`moat images verify`).
  r.add('GET', '/images/{name*}/trust', async (ctx) => {
    const name = ctx.params['name']!;
    const image = images.get(name);
    sendJson(ctx.res!, 200, requireService(service).explain(name, image));
  });

  r.add('POST', '/images/{name*}/tag', async (ctx) => {
    const repo = ctx.query.get('repo');
    if (!repo) throw invalid('repository name must have at least one component');
    const tag = ctx.query.get('tag') || undefined;
    const target = familiarName({ ...parseReference(repo), ...(tag ? { tag } : {}) });
    const image = images.get(ctx.params['name']!);
    await images.tag(image.id, target);
    engine.events.emit('image', 'tag', image.id, { name: target });
    ctx.res!.writeHead(201, { ...commonHeaders(), 'Content-Length': 0 });
    ctx.res!.end();
  });

  r.add('POST', '/images/{name*}/push', async (ctx) => {
    const svc = requireService(service);
    const name = ctx.params['name']!;
    const creds = decodeRegistryAuth(header(ctx.req.headers['x-registry-auth']));
    const stream = progressStream(ctx.res!, log, ctx.requestId);
    try {
      const results = await svc.push(name, ctx.query.get('tag') ?? '', { creds, progress: stream.send });
      for (const p of results) {
        const image = images.find(`${parseReference(name).repo}:${p.tag}`);
        engine.events.emit('image', 'push', image?.id ?? p.digest, { name: `${parseReference(name).repo}:${p.tag}` });
      }
      stream.end();
    } catch (err) {
      stream.fail(err);
    }
  });

  r.add('DELETE', '/images/{name*}', async (ctx) => {
    const out = await images.remove(ctx.params['name']!, { force: boolParam(ctx.query, 'force'), prune: !boolParam(ctx.query, 'noprune'), usedBy: (id) => engine.containerUsingImage(id) });
    for (const item of out) {
      if (item['Untagged']) engine.events.emit('image', 'untag', images.find(item['Untagged'])?.id ?? item['Untagged'], { name: item['Untagged'] });
      if (item['Deleted']?.startsWith('sha256:') && !item['Deleted'].includes('layer')) engine.events.emit('image', 'delete', item['Deleted'], { name: item['Deleted'] });
    }
    sendJson(ctx.res!, 200, out);
  });

  r.add('POST', '/images/create', async (ctx) => {
    const q = ctx.query;
    const fromSrc = q.get('fromSrc');
    const fromImage = q.get('fromImage');
    if (fromSrc !== null) {
      if (fromSrc !== '-') throw invalid('moat imports only from the request body (fromSrc=-); URLs are not fetched');
      let repo = q.get('repo') ?? '';
      const tag = q.get('tag');
      if (repo !== '' && tag) repo = `${repo}:${tag}`;
      const image = await images.importTarball(ctx.req, {
        ...(repo !== '' ? { tag: repo } : {}),
        changes: q.getAll('changes'),
        ...(q.get('message') ? { message: q.get('message')! } : {}),
        arch: goArch(),
      });
      engine.events.emit('image', 'import', image.id, { name: image.repoTags[0] ?? image.id });
      const res = ctx.res!;
      res.writeHead(200, { ...commonHeaders(), 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ status: image.id }) + '\n');
      return;
    }
    if (fromImage !== null) {
      const svc = requireService(service);
      const ref = pullReference(fromImage, q.get('tag') ?? '');
      const creds = decodeRegistryAuth(header(ctx.req.headers['x-registry-auth']));
      const platformText = q.get('platform') ?? '';
      const platform = platformText !== '' ? parsePlatform(platformText) : undefined;
      ctx.req.resume(); // no body; let the socket's end be seen
      const stream = progressStream(ctx.res!, log, ctx.requestId);
      try {
        const result = await svc.pull(ref, { creds, progress: stream.send, ...(platform ? { platform } : {}) });
        engine.events.emit('image', 'pull', result.image.id, { name: result.shown });
        stream.end();
      } catch (err) {
        stream.fail(err);
      }
      return;
    }
    throw invalid('fromSrc or fromImage is required');
  });

  // docker login: the registry must accept the credentials; nothing is stored by moatd.
  r.add('POST', '/auth', async (ctx) => {
    const svc = requireService(service);
    const body = ctx.json();
    const creds = credentialsFromAuthConfig(body);
    const server = creds.serverAddress ?? '';
    await svc.login(loginDomain(server), creds);
    sendJson(ctx.res!, 200, { IdentityToken: '', Status: 'Login Succeeded' });
  });
}
