// The seam between the builder and the engine: a build step is an ordinary moat container,
// made and run through the engine's public methods only (create, attach, start, wait, remove,
// withRootfs, layersOf), so it gets exactly what `docker run` would: moat's capabilities,
// seccomp profile with explained denials, pids limit, no host mounts, and the network the
// build asked for (none by default).
import { errorText, type Logger } from '../base/index.js';
import type { Engine, HostConfig } from '../engine/index.js';
import type { ImageRecord, ImageRuntimeConfig, ImageStore } from '../image/index.js';
import { commitContainer } from './commit.js';

/** A step container: the image it starts from and what it runs. */
export interface StepSpec {
  image: string;
  cmd: string[];
  env: string[];
  user: string;
  workdir: string;
  /** Build-wide container settings (network, limits, extra hosts). */
  host: HostConfig;
}

/** What the builder needs from a container engine. */
export interface StepExecutor {
  /** Make a step container (not started); returns its id. */
  create(spec: StepSpec): Promise<string>;
  /** Start it, stream its output, wait for its exit; returns the exit code. */
  run(id: string, output: (stream: 1 | 2, data: Buffer) => void): Promise<number>;
  /** Run `fn` on the container's merged rootfs (mounted for the call). */
  withRootfs<T>(id: string, fn: (dir: string) => Promise<T>): Promise<T>;
  /** Its changes as a new image; no layer when nothing changed. */
  commit(id: string, o: { config: ImageRuntimeConfig; createdBy: string; author?: string; dropBaseLayers?: number }): Promise<ImageRecord>;
  remove(id: string): Promise<void>;
  /** Seccomp denials recorded for the container (the build names them when a step fails). */
  denials(id: string): Promise<unknown[]>;
}

/**
 * The engine-backed executor.
 *
 * @example
 * const exec = new EngineExecutor(engine, images, log);
 * const id = await exec.create({ image, cmd: ['/bin/sh', '-c', 'make'], env: [], user: '', workdir: '/', host: { NetworkMode: 'none' } });
 */
export class EngineExecutor implements StepExecutor {
  constructor(
    readonly engine: Engine,
    readonly images: ImageStore,
    readonly log: Logger,
  ) {}

  async create(spec: StepSpec): Promise<string> {
    const { Id } = await this.engine.create({
      config: {
        Image: spec.image,
        Cmd: spec.cmd,
        Entrypoint: [],
        Env: spec.env,
        User: spec.user,
        WorkingDir: spec.workdir,
        AttachStdout: true,
        AttachStderr: true,
      },
      hostConfig: { ...spec.host, AutoRemove: false },
    });
    return Id;
  }

  async run(id: string, output: (stream: 1 | 2, data: Buffer) => void): Promise<number> {
    let ended!: () => void;
    const drained = new Promise<void>((resolve) => (ended = resolve));
    const session = await this.engine.attach(id, { stdin: false, stdout: true, stderr: true }, { output, end: () => ended() });
    // Registered before start: a short step could end before a later wait was set up.
    const exited = this.engine.wait(id, 'next-exit');
    try {
      await this.engine.start(id);
    } catch (err) {
      session.finish();
      throw err;
    }
    const result = await exited;
    // The attach stream ends when the process does; give its last bytes a moment.
    await Promise.race([drained, new Promise((r) => setTimeout(r, 2000))]);
    return result.StatusCode;
  }

  async withRootfs<T>(id: string, fn: (dir: string) => Promise<T>): Promise<T> {
    return await this.engine.withRootfs(id, fn);
  }

  async commit(id: string, o: { config: ImageRuntimeConfig; createdBy: string; author?: string; dropBaseLayers?: number }): Promise<ImageRecord> {
    return await commitContainer(this.engine, this.images, { container: id, config: o.config, createdBy: o.createdBy, pause: false, skipEmptyLayer: true, ...(o.author ? { author: o.author } : {}), ...(o.dropBaseLayers ? { dropBaseLayers: o.dropBaseLayers } : {}) });
  }

  async remove(id: string): Promise<void> {
    try {
      await this.engine.remove(id, { force: true, volumes: true });
    } catch (err) {
      this.log.warn({ containerId: id, err: errorText(err) }, 'cannot remove a build step container');
      throw err;
    }
  }

  async denials(id: string): Promise<unknown[]> {
    return await this.engine.seccompDenials(id, 5).catch(() => []);
  }
}
