// `docker images` filters and `docker history` rows, as moby computes them
// (daemon/images/images.go, image_history.go; distribution/reference FamiliarMatch). Pure.
import { EngineError } from '../base/index.js';
import type { ImageRecord } from './store.js';

export const IMAGE_LIST_FILTERS = ['before', 'since', 'reference', 'dangling', 'label', 'label!', 'until'] as const;
export const IMAGE_PRUNE_FILTERS = ['dangling', 'label', 'label!', 'until'] as const;

function invalidFilter(text: string): EngineError {
  return new EngineError('invalid', 'ERR_INVALID_ARGUMENT', `invalid filter '${text}'`);
}

/** Refuse filter keys outside `accepted` (a 400 naming the key, as moby's Validate). */
export function checkFilterKeys(filters: ReadonlyMap<string, string[]>, accepted: readonly string[]): void {
  for (const k of filters.keys()) if (!accepted.includes(k)) throw invalidFilter(k);
}

/** Go's path.Match: `*` any run of non-`/`, `?` one non-`/`, `[...]` a class. */
export function pathMatch(pattern: string, name: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) return false;
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += pattern[++i]!.replace(/[.+^$()|[\]\\{}*?]/g, '\\$&');
    } else re += c.replace(/[.+^$()|[\]\\{}]/g, '\\$&');
  }
  try {
    return new RegExp(`^${re}$`).test(name);
  } catch {
    return false;
  }
}

/** FamiliarMatch: the pattern against `repo:tag`, then against `repo` alone. */
export function referenceMatches(pattern: string, familiar: string): boolean {
  if (pathMatch(pattern, familiar)) return true;
  const at = familiar.indexOf('@');
  const colon = familiar.lastIndexOf(':');
  const repo = at >= 0 ? familiar.slice(0, at) : colon > familiar.lastIndexOf('/') ? familiar.slice(0, colon) : familiar;
  return pathMatch(pattern, repo);
}

/** `key` or `key=value` label filters, all of which must hold. */
export function labelsMatch(wanted: readonly string[], labels: Readonly<Record<string, string>> | undefined): boolean {
  const have = labels ?? {};
  return wanted.every((f) => {
    const eq = f.indexOf('=');
    if (eq < 0) return Object.hasOwn(have, f);
    return have[f.slice(0, eq)] === f.slice(eq + 1);
  });
}

/** `until`/`since` times: Unix seconds (with fraction), RFC 3339, or a Go duration ago (`10m`, `1h30m`). */
export function parseFilterTime(v: string, nowMs: number = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const dur = /^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/.test(v);
  if (dur) {
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    let ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * unit[m[2]!]!;
    return nowMs - ms;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new EngineError('invalid', 'ERR_INVALID_ARGUMENT', `invalid filter 'until=${v}': not a timestamp or duration`);
  return t;
}

/** An image as a list shows it: with only the names the reference filter kept. */
export interface ListedImage {
  image: ImageRecord;
  repoTags: string[];
  repoDigests: string[];
}

/** How `docker images` sees the parent links: without `all`, intermediate images are hidden. */
export interface ImageListView {
  /** `all=1` (`docker images -a`). */
  all: boolean;
  /** Does any image name this one as its parent? */
  hasChildren: (id: string) => boolean;
}

/**
 * Apply `docker images` filters. `resolve` finds the image a before/since filter names (throws 404).
 * As dockerd: an image with no name that others were built on (a build's intermediate step)
 * is listed only with `all`, and is never dangling (`dangling=true` lists the childless ones).
 *
 * @example
 * filterImages(store.list(), filtersParam(q), (r) => store.get(r), { all: false, hasChildren: (id) => store.childrenOf(id).length > 0 })
 */
export function filterImages(list: readonly ImageRecord[], filters: ReadonlyMap<string, string[]>, resolve: (ref: string) => ImageRecord, view: ImageListView = { all: true, hasChildren: () => false }, nowMs = Date.now()): ListedImage[] {
  checkFilterKeys(filters, IMAGE_LIST_FILTERS);
  const created = (i: ImageRecord): number => Date.parse(i.config.created);
  const dangling = filters.get('dangling') ?? [];
  for (const d of dangling) if (d !== 'true' && d !== 'false' && d !== '1' && d !== '0') throw invalidFilter(`dangling=${d}`);
  const danglingWant = dangling.length === 0 ? undefined : dangling[0] === 'true' || dangling[0] === '1';
  const before = (filters.get('before') ?? []).map((r) => created(resolve(r)));
  const since = (filters.get('since') ?? []).map((r) => created(resolve(r)));
  const until = (filters.get('until') ?? []).map((u) => parseFilterTime(u, nowMs));
  const labels = filters.get('label') ?? [];
  const notLabels = filters.get('label!') ?? [];
  const refs = filters.get('reference') ?? [];
  const out: ListedImage[] = [];
  for (const image of list) {
    const t = created(image);
    if (before.some((b) => !(t < b))) continue;
    if (since.some((s) => !(t > s))) continue;
    if (until.some((u) => !(t < u))) continue;
    const imgLabels = image.config.config.Labels ?? {};
    if (!labelsMatch(labels, imgLabels)) continue;
    if (notLabels.length > 0 && notLabels.some((l) => labelsMatch([l], imgLabels))) continue;
    const nameless = image.repoTags.length === 0 && image.repoDigests.length === 0;
    const intermediate = nameless && view.hasChildren(image.id);
    if (intermediate && !view.all) continue;
    if (danglingWant !== undefined && (image.repoTags.length === 0 && !intermediate) !== danglingWant) continue;
    let repoTags = image.repoTags;
    let repoDigests = image.repoDigests;
    if (refs.length > 0) {
      repoTags = repoTags.filter((r) => refs.some((p) => referenceMatches(p, r)));
      repoDigests = repoDigests.filter((r) => refs.some((p) => referenceMatches(p, r)));
      if (repoTags.length === 0 && repoDigests.length === 0) continue;
    }
    out.push({ image, repoTags, repoDigests });
  }
  return out;
}

/** One row of `docker history`. */
export interface HistoryRow {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

/**
 * History rows, newest first: one per history entry, each non-empty entry taking the next
 * layer's size; only the top row has the image id and tags (moat keeps no parent chain).
 * An image without history gets one row per layer.
 */
export function historyRows(image: ImageRecord, layerSize: (diffId: string) => number): HistoryRow[] {
  const diffIds = image.config.rootfs.diff_ids;
  type Entry = { created: string; created_by?: string; comment?: string; empty_layer?: boolean };
  const hist: Entry[] = image.config.history.length > 0 ? image.config.history : diffIds.map(() => ({ created: image.config.created }));
  let layer = 0;
  const rows: HistoryRow[] = [];
  for (const h of hist) {
    let size = 0;
    if (h.empty_layer !== true) {
      const d = diffIds[layer++];
      if (d !== undefined) size = layerSize(d);
    }
    rows.unshift({
      Id: '<missing>',
      Created: Math.floor(Date.parse(h.created) / 1000) || 0,
      CreatedBy: h.created_by ?? '',
      Tags: null,
      Size: size,
      Comment: h.comment ?? '',
    });
  }
  if (rows[0]) {
    rows[0].Id = image.id;
    rows[0].Tags = image.repoTags.length > 0 ? image.repoTags : null;
  }
  return rows;
}
