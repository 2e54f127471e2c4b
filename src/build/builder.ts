// The classic builder: runs a plan step by step. Metadata steps make a new image config;
// RUN, WORKDIR and COPY/ADD steps make a container through the executor and commit it. Each
// step is looked up in the cache first. Output goes to `emit` as dockerd's JSON messages.
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EngineError, invalid, noSuchImage, errorText, type Logger } from '../base/index.js';
import type { HostConfig } from '../engine/index.js';
import { applyLayer, familiarName, parseReference, type ImageRecord, type ImageStore } from '../image/index.js';
import { openAt, openRoot, readFileAt, reopen, O_NOFOLLOW, O_PATH, O_RDONLY, type Handle } from '../sys/index.js';
import { cacheKey, type BuildCache } from './cache.js';
import { commitConfig } from './commit.js';
import { archiveKind, checksumSources, copyInto, findSources, makeDirs, readHead, type CopyOwnership, type Source } from './copy.js';
import { decompress, type BuildContext } from './context.js';
import { parseDockerfile, parseInstruction, type Instruction } from './dockerfile.js';
import type { StepExecutor } from './executor.js';
import { arrow, auxId, deniedLine, deniedSyscalls, removingContainer, runFailed, runningIn, stepLines, stepOutput, successLines, triggersLine, unusedArgsWarning, USING_CACHE, type BuildMessage } from './output.js';
import { fromImage, metaArgValues, planStages, planStep, startStage, unusedBuildArgs, type BuildConfig, type PlanContext, type StageState, type StepAction, type CopyRequest } from './plan.js';

export interface BuildOptions {
  tags: string[];
  buildArgs: Map<string, string | null>;
  labels: Record<string, string>;
  noCache: boolean;
  /** Remove each step container after its step (the API's `rm`, default true). */
  rm: boolean;
  target: string;
  /** HostConfig of every RUN container: NetworkMode and the limits the request gave. */
  host: HostConfig;
  /** Always pull the base images. */
  pull: boolean;
  /** May moatd fetch URLs (ADD of a URL)? Only when the build has a network. */
  network: boolean;
}

export interface BuildDeps {
  images: ImageStore;
  executor: StepExecutor;
  cache: BuildCache;
  /** Pull a missing base image (progress into the build output); absent: a missing image is a 404. */
  pull?: (ref: string, emit: (m: BuildMessage) => void) => Promise<ImageRecord>;
  arch: string;
  log: Logger;
}

/** A RUN step that exited non-zero: the stream's errorDetail carries the code. */
export class StepFailed extends EngineError {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super('invalid', 'ERR_BUILD_STEP_FAILED', message);
  }
}

interface StageRun {
  state: StageState;
  /** The image so far; undefined only at `FROM scratch` before any step. */
  image: ImageRecord | undefined;
}

const SCRATCH = 'scratch';

/** A tar with no entries (two zero blocks): the placeholder layer of a scratch stage's container. */
function emptyTar(): Readable {
  return Readable.from([Buffer.alloc(1024)]);
}

export class Builder {
  #d: BuildDeps;
  #o: BuildOptions;
  #ctx: BuildContext;
  #emit: (m: BuildMessage) => void;
  #stageImages = new Map<string, ImageRecord | undefined>();
  #usedArgs = new Set<string>();
  #escape = '\\';

  #gone: () => boolean;

  constructor(ctx: BuildContext, o: BuildOptions, d: BuildDeps, emit: (m: BuildMessage) => void, gone: () => boolean = () => false) {
    this.#gone = gone;
    this.#ctx = ctx;
    this.#o = o;
    this.#d = d;
    this.#emit = emit;
  }

  /** Build; returns the final image (tagged). Throws EngineError (StepFailed for a RUN). */
  async build(): Promise<ImageRecord> {
    const df = parseDockerfile(this.#ctx.dockerfile);
    // --label: dockerd adds one LABEL instruction at the end, sorted by key.
    const labelKeys = Object.keys(this.#o.labels).sort();
    if (labelKeys.length > 0) {
      const text = `LABEL ${labelKeys.map((k) => `${JSON.stringify(k)}=${JSON.stringify(this.#o.labels[k])}`).join(' ')}`;
      df.instructions.push({ ...parseInstruction(text, df.escape), line: df.instructions.length + 1 });
    }
    const plan = planStages(df, this.#o.target);
    this.#escape = plan.escape;
    // With a target, --label applies to the target stage: move it there.
    if (labelKeys.length > 0 && this.#o.target !== '') {
      const last = plan.stages[plan.stages.length - 1]!;
      const label = df.instructions[df.instructions.length - 1]!;
      if (!last.instructions.includes(label)) {
        for (const s of plan.stages) s.instructions = s.instructions.filter((i) => i !== label);
        last.instructions.push(label);
      }
    }
    let n = 1;
    for (const a of plan.metaArgs) {
      for (const m of stepLines(n++, plan.totalSteps, a.original)) this.#emit(m);
    }
    const meta = metaArgValues(plan.metaArgs, this.#o.buildArgs, plan.escape);
    for (const k of meta.keys()) this.#usedArgs.add(k);
    let final: ImageRecord | undefined;
    for (const stage of plan.stages) {
      for (const m of stepLines(n++, plan.totalSteps, stage.from.original)) this.#emit(m);
      const run = await this.#startStage(stage.from, meta);
      const ctx: PlanContext = { escape: plan.escape, buildArgs: this.#o.buildArgs, metaArgs: meta };
      if (run.triggers.length > 0) {
        this.#emit(triggersLine(run.triggers.length));
        for (const t of run.triggers) await this.#step(run.stage, parseInstruction(t, plan.escape), ctx);
      }
      this.#emit(arrow(run.stage.image?.id));
      for (const i of stage.instructions) {
        for (const m of stepLines(n++, plan.totalSteps, i.original)) this.#emit(m);
        await this.#step(run.stage, i, ctx);
        this.#emit(arrow(run.stage.image?.id));
      }
      for (const k of run.stage.state.args.keys()) this.#usedArgs.add(k);
      const image = run.stage.image ?? (await this.#metaImage(run.stage, undefined, { createdBy: '', config: run.stage.state.config }));
      this.#stageImages.set(String(stage.index), image);
      if (stage.name !== undefined) this.#stageImages.set(stage.name, image);
      this.#emit(auxId(image.id));
      final = image;
    }
    const unused = unusedBuildArgs(this.#o.buildArgs, this.#usedArgs);
    if (unused.length > 0) this.#emit(unusedArgsWarning(unused));
    const tags = this.#o.tags.map((t) => familiarName(parseReference(t)));
    for (const t of tags) await this.#d.images.tag(final!.id, t);
    for (const m of successLines(final!.id, tags)) this.#emit(m);
    return this.#d.images.get(final!.id);
  }

  async #startStage(from: Instruction, meta: ReadonlyMap<string, string | undefined>): Promise<{ stage: StageRun; triggers: string[] }> {
    const { image: name, platform } = fromImage(from, meta, this.#escape);
    if (platform !== undefined && platform !== `linux/${this.#d.arch}` && platform !== 'linux') {
      throw invalid(`moat builds for linux/${this.#d.arch} only: --platform=${platform} is not supported`);
    }
    let image: ImageRecord | undefined;
    const stageRef = this.#stageImages.has(name.toLowerCase()) && !name.includes('/') && !name.includes(':');
    if (stageRef) image = this.#stageImages.get(name.toLowerCase());
    else if (name.toLowerCase() !== SCRATCH) image = await this.#baseImage(name);
    const { state, triggers } = startStage(image?.config.config as BuildConfig | undefined);
    return { stage: { state, image }, triggers };
  }

  async #baseImage(name: string): Promise<ImageRecord> {
    const local = this.#d.images.find(name);
    if (local && !this.#o.pull) return local;
    if (!this.#d.pull) {
      if (local) return local;
      throw noSuchImage(name);
    }
    return await this.#d.pull(name, this.#emit);
  }

  async #step(s: StageRun, i: Instruction, ctx: PlanContext): Promise<void> {
    // A client that hung up cancels the build between steps (dockerd cancels it too).
    if (this.#gone()) throw invalid('build cancelled: the client went away');
    const action = planStep(s.state, i, ctx);
    const parent = s.image?.id ?? SCRATCH;
    switch (action.kind) {
      case 'meta': {
        const key = cacheKey(parent, ['meta', action.createdBy, action.config, action.author ?? s.state.author ?? '']);
        if (await this.#cached(s, key)) break;
        s.image = await this.#metaImage(s, key, { createdBy: action.createdBy, config: action.config });
        break;
      }
      case 'run': {
        const key = cacheKey(parent, ['run', action.cmd, action.env, action.config, this.#o.host]);
        if (await this.#cached(s, key)) break;
        s.image = await this.#inContainer(s, key, action, true, async (id) => {
          const code = await this.#d.executor.run(id, (stream, data) => this.#emit(stepOutput(stream, data)));
          // The explainer's records name what the profile refused: a failing step says why.
          const denied = deniedSyscalls(await this.#d.executor.denials(id));
          if (denied.length > 0) this.#emit(deniedLine(denied));
          if (code !== 0) throw new StepFailed(runFailed(action.cmd, code) + (denied.length > 0 ? ` (seccomp denied: ${denied.join(', ')})` : ''), code);
        });
        break;
      }
      case 'workdir': {
        const key = cacheKey(parent, ['workdir', action.dir, action.config]);
        if (await this.#cached(s, key)) break;
        s.image = await this.#inContainer(s, key, action, true, async (id) => {
          await this.#d.executor.withRootfs(id, async (dir) => {
            const root = openRoot(dir);
            try {
              const own = this.#owner(root, action.config.User ?? '', true);
              makeDirs(root, action.dir, own).close();
            } finally {
              root.close();
            }
          });
        });
        break;
      }
      case 'copy':
        await this.#copyStep(s, action, parent);
        break;
    }
    s.state.config = action.config;
  }

  async #cached(s: StageRun, key: string): Promise<boolean> {
    if (this.#o.noCache) return false;
    const hit = await this.#d.cache.find(key);
    if (hit === undefined) return false;
    this.#emit(USING_CACHE);
    s.image = this.#d.images.get(hit);
    return true;
  }

  async #metaImage(s: StageRun, key: string | undefined, o: { createdBy: string; config: BuildConfig }): Promise<ImageRecord> {
    const image = await commitConfig(this.#d.images, s.image, { config: o.config, createdBy: o.createdBy, arch: this.#d.arch, ...(s.state.author ? { author: s.state.author } : {}) });
    if (key !== undefined) await this.#d.cache.add(key, image.id);
    return image;
  }

  /** An image a container can start from: the stage's image, or an empty placeholder layer under a scratch stage. */
  async #containerBase(s: StageRun): Promise<{ image: string; drop: number }> {
    if (s.image && s.image.config.rootfs.diff_ids.length > 0) return { image: s.image.id, drop: 0 };
    const images = this.#d.images;
    const diffId = await images.addLayer(emptyTar());
    const base = s.image?.config;
    const placeholder = await images.addImage({
      architecture: base?.architecture ?? this.#d.arch,
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: base?.config ?? {},
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: base?.history ?? [],
    });
    return { image: placeholder.id, drop: 1 };
  }

  /** Make a step container, run `work` on it, commit it, remove it (also on failure, unless rm=false). */
  async #inContainer(s: StageRun, key: string, action: Exclude<StepAction, { kind: 'meta' }>, announce: boolean, work: (id: string) => Promise<void>): Promise<ImageRecord> {
    const ex = this.#d.executor;
    const base = await this.#containerBase(s);
    const cmd = action.kind === 'run' ? action.cmd : ['/bin/sh', '-c', `#(nop) ${action.createdBy}`];
    const id = await ex.create({
      image: base.image,
      cmd,
      env: action.kind === 'run' ? action.env : (s.state.config.Env ?? []),
      user: action.kind === 'run' ? (action.config.User ?? '') : '',
      workdir: action.kind === 'run' ? (action.config.WorkingDir ?? '') : '',
      host: this.#o.host,
    });
    if (announce) this.#emit(runningIn(id));
    let ok = false;
    try {
      await work(id);
      const image = await ex.commit(id, { config: action.config, createdBy: action.createdBy, ...(s.state.author ? { author: s.state.author } : {}), ...(base.drop > 0 ? { dropBaseLayers: base.drop } : {}) });
      if (s.image) await this.#d.images.setParent(image.id, s.image.id);
      await this.#d.cache.add(key, image.id);
      ok = true;
      return image;
    } finally {
      if (this.#o.rm) {
        if (announce && ok) this.#emit(removingContainer(id));
        await ex.remove(id).catch((err: unknown) => this.#d.log.warn({ containerId: id, err: errorText(err) }, 'build step container left behind'));
      }
    }
  }

  /** `--chown` (or the default root) as host ids: names from the rootfs's /etc/passwd and /etc/group, remapped under userns. */
  #owner(rootfs: Handle, chown: string, isDefault = false): CopyOwnership {
    const shift = this.#d.images.idShift ?? { uid: 0, gid: 0 };
    if (isDefault || chown === '') return { uid: shift.uid, gid: shift.gid };
    const [user = '', group] = chown.split(':');
    const lookup = (file: string, name: string, what: string): number => {
      if (/^\d+$/.test(name)) return Number(name);
      const text = readFileAt(rootfs, file, { resolve: 'in-root' })?.toString('utf8') ?? '';
      for (const line of text.split('\n')) {
        const f = line.split(':');
        if (f[0] === name && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
      }
      throw invalid(`unable to convert uid/gid chown string to host mapping: can't find ${what} ${JSON.stringify(name)} in ${file}`);
    };
    const uid = lookup('/etc/passwd', user, 'uid for user');
    const gid = group === undefined || group === '' ? uid : lookup('/etc/group', group, 'gid for group');
    return { uid: uid + shift.uid, gid: gid + shift.gid };
  }

  async #copyStep(s: StageRun, action: Extract<StepAction, { kind: 'copy' }>, parent: string): Promise<void> {
    const c = action.copy;
    const what = c.add ? 'ADD' : 'COPY';
    if (c.heredocs.length > 0) throw invalid(`${what} from a here-document is not supported by moat's classic builder`);
    const urls = c.add ? c.sources.filter((x) => /^https?:\/\//i.test(x)) : [];
    if (urls.length > 0 && !this.#o.network) {
      throw invalid(`ADD of a URL needs network access, and this build has none (--network none is moat's default): build with --network bridge or host, or download ${urls[0]} into the context`);
    }
    // Sources from another stage or image: their rootfs, read in-root through a container.
    if (c.from !== undefined) {
      const src = this.#stageImages.get(c.from.toLowerCase()) ?? (await this.#baseImage(c.from));
      if (src === undefined) throw invalid(`${what} --from=${c.from}: that stage has no image (FROM scratch with no step)`);
      const key = cacheKey(parent, ['copy-from', action.createdBy, action.config, src.id, c.chown ?? '', c.chmod ?? -1]);
      if (await this.#cached(s, key)) return;
      const ex = this.#d.executor;
      const srcBox = await ex.create({ image: src.id, cmd: ['/bin/sh'], env: [], user: '', workdir: '', host: { NetworkMode: 'none' } });
      try {
        s.image = await this.#inContainer(s, key, action, false, async (id) => {
          await ex.withRootfs(srcBox, async (srcDir) => {
            const srcRoot = openRoot(srcDir);
            try {
              const sources = await findSources(srcRoot, c.sources.map((x) => x.replace(/^\/+/, '')), what);
              try {
                await this.#copyIntoContainer(id, sources, c, action);
              } finally {
                for (const x of sources) x.handle.close();
              }
            } finally {
              srcRoot.close();
            }
          });
        });
      } finally {
        await ex.remove(srcBox).catch(() => undefined);
      }
      return;
    }
    const ctxRoot = openRoot(this.#ctx.dir);
    const sources: Array<Source & { name?: string }> = [];
    try {
      sources.push(...(await findSources(ctxRoot, c.sources.filter((x) => !urls.includes(x)), what)));
      for (const u of urls) sources.push(await this.#download(u));
      const sum = await checksumSources(sources);
      const key = cacheKey(parent, ['copy', action.createdBy, action.config, sum, c.chown ?? '', c.chmod ?? -1]);
      if (await this.#cached(s, key)) return;
      s.image = await this.#inContainer(s, key, action, false, (id) => this.#copyIntoContainer(id, sources, c, action));
    } finally {
      for (const x of sources) x.handle.close();
      ctxRoot.close();
    }
  }

  async #copyIntoContainer(id: string, sources: ReadonlyArray<Source & { name?: string }>, c: CopyRequest, action: Extract<StepAction, { kind: 'copy' }>): Promise<void> {
    await this.#d.executor.withRootfs(id, async (dir) => {
      const rootfs = openRoot(dir);
      try {
        const own = { ...this.#owner(rootfs, c.chown ?? '', c.chown === undefined), chmod: c.chmod };
        for (const src of sources) {
          // ADD extracts a local tar archive (plain, gzip, bzip2, xz) into the destination.
          if (c.add && src.name === undefined && src.handle.stat().isFile()) {
            const kind = archiveKind(readHead(src.handle, 512));
            if (kind !== undefined) {
              await this.#extractInto(rootfs, src, kind, action.copy.dest.endsWith('/') ? action.copy.dest : `${action.copy.dest}/`, own);
              continue;
            }
          }
          await copyInto(rootfs, [src], c.dest, own);
        }
      } finally {
        rootfs.close();
      }
    });
  }

  async #extractInto(rootfs: Handle, src: Source, kind: NonNullable<ReturnType<typeof archiveKind>>, dest: string, own: CopyOwnership): Promise<void> {
    const tmp = await this.#ctx.tmpDir('add');
    const io = reopen(src.handle, O_RDONLY);
    try {
      // Read through our own fd on the opened inode; extraction goes into a private dir first.
      const stream = createReadStream('', { fd: io.fd, autoClose: false });
      await applyLayer(decompress(kind, stream), tmp, { plainArchive: true });
    } finally {
      io.close();
    }
    const root = openRoot(tmp);
    try {
      // Entries keep the archive's modes; owners are root's or --chown's (Docker keeps the archive's owners).
      await copyInto(rootfs, [{ handle: root, rel: '' }], dest, own);
    } finally {
      root.close();
    }
  }

  /** ADD <url>: fetched into the build's temp dir (only with a network), named after the URL's last path part, mode 0600. */
  async #download(url: string): Promise<Source & { name: string }> {
    const tmp = await this.#ctx.tmpDir('url');
    const name = decodeURIComponent(new URL(url).pathname.split('/').filter((p) => p !== '').pop() ?? '') || '__unnamed__';
    const res = await fetch(url, { redirect: 'follow' }).catch((err: unknown) => {
      throw invalid(`ADD failed: cannot fetch ${url}: ${errorText(err)}`);
    });
    if (!res.ok || res.body === null) throw invalid(`ADD failed: cannot fetch ${url}: HTTP ${res.status}`);
    await writeFile(join(tmp, 'file'), Buffer.from(await res.arrayBuffer()), { mode: 0o600 });
    const root = openRoot(tmp);
    try {
      return { handle: openAt(root, 'file', { flags: O_PATH | O_NOFOLLOW }), rel: name, name };
    } finally {
      root.close();
    }
  }
}
