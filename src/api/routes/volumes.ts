// /volumes/* routes: local named volumes (moby `api/server/router/volume`).
import { invalid } from '../../base/index.js';
import type { Engine, ContainerRecord } from '../../engine/index.js';
import { volumeView } from '../../engine/index.js';
import { filtersParam } from '../params.js';
import { checkLabelSizes, issuesText, parseBind, readRequest, volumeCreateSchema } from '../../docker/index.js';
import type { Router } from '../router.js';
import { sendEmpty, sendJson } from '../reply.js';
import { boolParam } from '../params.js';

/** Volume names a container refers to: recorded mounts, `-v name:/dst` binds and `type=volume` mounts. */
export function volumesOfContainer(c: ContainerRecord): string[] {
  const out = new Set<string>();
  for (const v of c.Volumes ?? []) out.add(v.name);
  for (const b of c.HostConfig.Binds ?? []) {
    const m = tryParse(() => parseBind(b));
    if (m?.kind === 'volume' && m.source !== '') out.add(m.source);
  }
  for (const m of c.HostConfig.Mounts ?? []) if (m.Type === 'volume' && m.Source) out.add(m.Source);
  return [...out];
}

/** A record's mounts were checked at its create; one from an older moat that no longer parses names no volume. */
function tryParse<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** The containers that have a volume: those the store saw mount it, and every record naming it (made, not started, too). */
export function usersOf(engine: Engine, name: string): string[] {
  // The store's users, less containers that are gone (auto-removed ones never came through DELETE).
  const ids = new Set<string>();
  for (const id of engine.volumes.usersOf(name)) {
    if (engine.find(id)) ids.add(id);
    else engine.volumes.release(name, id);
  }
  for (const c of engine.list()) if (volumesOfContainer(c).includes(name)) ids.add(c.Id);
  return [...ids];
}

function labelMatch(labels: Record<string, string>, f: string): boolean {
  const i = f.indexOf('=');
  return i < 0 ? f in labels : labels[f.slice(0, i)] === f.slice(i + 1);
}

export function registerVolumeRoutes(r: Router, engine: Engine): void {
  const vols = (): Engine['volumes'] => engine.volumes;

  r.add('GET', '/volumes', async (ctx) => {
    const filters = filtersParam(ctx.query);
    for (const k of filters.keys()) if (!['name', 'label', 'dangling', 'driver'].includes(k)) throw invalid(`invalid filter '${k}'`);
    // moby's words: `dangling=maybe` would otherwise read as false and list the volumes in use.
    const danglingValues = filters.get('dangling') ?? [];
    if (danglingValues.some((x) => !['true', 'false', '1', '0'].includes(x))) throw invalid(`Invalid filter 'dangling=[${danglingValues.join(' ')}]'`);
    const list = (await vols().list()).filter((v) => {
      const names = filters.get('name') ?? [];
      if (names.length > 0 && !names.some((n) => v.Name.includes(n))) return false;
      const labels = filters.get('label') ?? [];
      if (labels.length > 0 && !labels.every((l) => labelMatch(v.Labels, l))) return false;
      const drivers = filters.get('driver') ?? [];
      if (drivers.length > 0 && !drivers.includes(v.Driver)) return false;
      const dangling = filters.get('dangling') ?? [];
      if (dangling.length > 0) {
        const want = dangling[0] === 'true' || dangling[0] === '1';
        if ((usersOf(engine, v.Name).length === 0) !== want) return false;
      }
      return true;
    });
    sendJson(ctx.res!, 200, { Volumes: list.map((v) => volumeView(v, vols().dataPath(v.Name))), Warnings: [] });
  });

  r.add('POST', '/volumes/create', async (ctx) => {
    const raw = ctx.json() ?? {};
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('invalid volume create body');
    const read = readRequest(volumeCreateSchema, raw);
    if (!read.ok) throw invalid(issuesText(read.issues));
    const body = read.value;
    const name = body.Name ?? '';
    const driver = body.Driver ?? '';
    if (driver !== '' && driver !== 'local') throw invalid(`create ${name}: volume driver ${JSON.stringify(driver)} is not supported by moat: only "local"`);
    const labels = body.Labels ?? {};
    const options = body.DriverOpts ?? {};
    checkLabelSizes(labels, 'Labels');
    const existed = name !== '' && vols().find(name) !== undefined;
    const v = await vols().create(name === '' ? undefined : name, { labels, options });
    if (!existed) engine.events.emit('volume', 'create', v.Name, { driver: 'local' });
    sendJson(ctx.res!, 201, volumeView(v, vols().dataPath(v.Name)));
  });

  r.add('POST', '/volumes/prune', async (ctx) => {
    const filters = filtersParam(ctx.query);
    // An unknown key must not prune as if it were absent (a typo would take every volume).
    for (const k of filters.keys()) if (k !== 'label' && k !== 'label!' && k !== 'all') throw invalid(`Invalid filter '${k}'`);
    const all = (filters.get('all') ?? []).some((x) => x === 'true' || x === '1');
    const labels = filters.get('label') ?? [];
    const notLabels = filters.get('label!') ?? [];
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const v of await vols().list()) {
      // Like moby >= 23: without all=true only anonymous volumes are pruned.
      if (!all && !v.Anonymous) continue;
      if (labels.length > 0 && !labels.every((l) => labelMatch(v.Labels, l))) continue;
      if (notLabels.some((l) => labelMatch(v.Labels, l))) continue;
      if (usersOf(engine, v.Name).length > 0) continue;
      const size = await vols().size(v.Name);
      await vols().remove(v.Name);
      engine.events.emit('volume', 'destroy', v.Name, { driver: 'local' });
      deleted.push(v.Name);
      reclaimed += size;
    }
    sendJson(ctx.res!, 200, { VolumesDeleted: deleted, SpaceReclaimed: reclaimed });
  });

  r.add('GET', '/volumes/{name}', async (ctx) => {
    const v = await vols().get(ctx.params['name']!);
    sendJson(ctx.res!, 200, volumeView(v, vols().dataPath(v.Name)));
  });

  r.add('DELETE', '/volumes/{name}', async (ctx) => {
    const name = ctx.params['name']!;
    const force = boolParam(ctx.query, 'force');
    const existed = vols().find(name) !== undefined || (await vols().list()).some((v) => v.Name === name);
    await vols().remove(name, { force, inUse: usersOf(engine, name) });
    if (existed) engine.events.emit('volume', 'destroy', name, { driver: 'local' });
    sendEmpty(ctx.res!, 204);
  });
}
