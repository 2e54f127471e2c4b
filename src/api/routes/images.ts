// /images/* routes. Image names may contain '/', so name patterns take the rest of the path.
import os from 'node:os';
import { EngineError, invalid } from '../../base/index.js';
import type { Engine } from '../../engine/index.js';
import { familiarName, parseReference } from '../../image/index.js';
import { boolParam, filtersParam } from '../params.js';
import type { Router } from '../router.js';
import { commonHeaders, sendJson } from '../server.js';
import { imageInspect, imageSummary } from '../views.js';

export function goArch(): string {
  const a = os.arch();
  return a === 'x64' ? 'amd64' : a;
}

export function registerImageRoutes(r: Router, engine: Engine): void {
  const images = engine.images;

  r.add('GET', '/images/json', async (ctx) => {
    const filters = filtersParam(ctx.query);
    const counts = new Map<string, number>();
    for (const c of engine.list()) counts.set(c.Image, (counts.get(c.Image) ?? 0) + 1);
    let list = images.list();
    const ref = filters.get('reference');
    if (ref && ref.length > 0) list = list.filter((i) => i.repoTags.some((t) => ref.some((p) => t === p || t.startsWith(`${p}:`) || new RegExp(`^${p.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '.')}(:|$)`).test(t))));
    const dangling = filters.get('dangling');
    if (dangling && dangling.length > 0) list = list.filter((i) => (i.repoTags.length === 0) === (dangling[0] === 'true'));
    list.sort((a, b) => Date.parse(b.config.created) - Date.parse(a.config.created));
    sendJson(ctx.res!, 200, list.map((i) => imageSummary(i, counts.get(i.id) ?? 0)));
    void boolParam;
  });

  // docker image prune: dangling (untagged) images no container uses; -a: every unused image.
  r.add('POST', '/images/prune', async (ctx) => {
    const filters = filtersParam(ctx.query);
    for (const k of filters.keys()) if (k !== 'dangling' && k !== 'label') throw invalid(`invalid filter '${k}'`);
    const danglingOnly = (filters.get('dangling') ?? ['true'])[0] !== 'false';
    const out: Array<Record<string, string>> = [];
    for (const i of images.list()) {
      if (danglingOnly && i.repoTags.length > 0) continue;
      if (engine.containerUsingImage(i.id) !== undefined) continue;
      const labels = i.config.config.Labels ?? {};
      if (!(filters.get('label') ?? []).every((f) => (f.includes('=') ? labels[f.split('=')[0]!] === f.slice(f.indexOf('=') + 1) : f in labels))) continue;
      try {
        const removed = await images.remove(i.id, { force: true, usedBy: (id) => engine.containerUsingImage(id) });
        out.push(...removed);
        engine.events.emit('image', 'delete', i.id, { name: i.id });
      } catch (err) {
        if (!(err instanceof EngineError) || err.kind === 'internal') throw err;
      }
    }
    sendJson(ctx.res!, 200, { ImagesDeleted: out, SpaceReclaimed: 0 });
  });

  r.add('GET', '/images/{name*}/json', async (ctx) => {
    sendJson(ctx.res!, 200, imageInspect(images.get(ctx.params['name']!)));
  });

  r.add('GET', '/images/{name*}/history', async (ctx) => {
    const i = images.get(ctx.params['name']!);
    const hist = [...i.config.history].reverse().map((h, idx) => ({
      Id: idx === 0 ? i.id : '<missing>',
      Created: Math.floor(Date.parse(h.created) / 1000),
      CreatedBy: h.created_by ?? '',
      Tags: idx === 0 ? i.repoTags : null,
      Size: h.empty_layer ? 0 : i.size,
      Comment: h.comment ?? '',
    }));
    sendJson(ctx.res!, 200, hist);
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

  r.add('DELETE', '/images/{name*}', async (ctx) => {
    const out = await images.remove(ctx.params['name']!, { force: boolParam(ctx.query, 'force'), usedBy: (id) => engine.containerUsingImage(id) });
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
      const tag = q.get('tag');
      let name = fromImage;
      try {
        name = familiarName({ ...parseReference(fromImage), ...(tag ? { tag } : {}) });
      } catch {
        // report as typed
      }
      throw new EngineError('not-implemented', 'ERR_PULL_UNSUPPORTED', `pull access denied for ${name}: moat does not pull from registries yet; use "docker import" or the built-in busybox image`);
    }
    throw invalid('fromSrc or fromImage is required');
  });
}
