// `moat`: docker-like verbs over the Engine API, plus moat's own `seccomp` and `authz`.
// Exit codes follow the docker CLI: 125 for daemon/flag errors of run/create, 126/127 when
// the command cannot be run or found, otherwise the container's or exec's code.
import { Command, Option } from 'commander';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { ApiError, Client, demux, parseHost, readAll } from './client.js';
import { buildCreateBody, type RunFlags } from './run-options.js';
import { registerSeccompCommands } from './commands/seccomp.js';
import { registerAuthzCommands } from './commands/authz.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

class ExitError extends Error {
  constructor(readonly code: number, message = '') {
    super(message);
  }
}

function clientOf(program: Command): Client {
  const host = (program.opts()['host'] as string | undefined) ?? process.env['MOAT_HOST'] ?? process.env['DOCKER_HOST'] ?? 'unix:///run/moat/moat.sock';
  return new Client(parseHost(host));
}

function daemonError(err: unknown, code = 1): ExitError {
  if (err instanceof ApiError) return new ExitError(code, `Error response from daemon: ${err.message}`);
  if (err instanceof ExitError) return err;
  return new ExitError(code, `Error: ${(err as Error).message}`);
}

/** docker/cli toStatusError: 127 not found, 126 cannot execute, else 125. */
function runErrorCode(err: unknown): number {
  const msg = err instanceof Error ? err.message : String(err);
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(msg)) return 127;
  if (/permission denied|is a directory/.test(msg)) return 126;
  return 125;
}

function addRunFlags(cmd: Command): Command {
  return cmd
    .option('--name <name>', 'container name')
    .option('-d, --detach', 'run in the background and print the container id')
    .option('--rm', 'remove the container when it exits')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a terminal')
    .option('-e, --env <var>', 'environment variable', collect, [])
    .option('-l, --label <label>', 'label', collect, [])
    .option('-u, --user <user>', 'user name|uid[:group|gid]')
    .option('-w, --workdir <dir>', 'working directory')
    .option('--entrypoint <cmd>', 'override the image entrypoint')
    .option('-h, --hostname <name>', 'container hostname')
    .option('--cap-add <cap>', 'add a capability', collect, [])
    .option('--cap-drop <cap>', 'drop a capability', collect, [])
    .option('--privileged', 'all capabilities of the daemon, all devices, no seccomp')
    .option('--pids-limit <n>', 'pids limit (-1 unlimited)')
    .option('--security-opt <opt>', 'security option', collect, [])
    .option('--read-only', 'read-only root filesystem')
    .option('--network <mode>', 'network mode: none, host, container:X')
    .option('-m, --memory <bytes>', 'memory limit')
    .option('--memory-swap <bytes>', 'memory + swap limit (-1 unlimited)')
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--cpus <n>', 'CPUs')
    .option('-c, --cpu-shares <n>', 'CPU shares')
    .option('--cpuset-cpus <list>', 'CPUs allowed')
    .option('--ulimit <ulimit>', 'ulimit name=soft[:hard]', collect, [])
    .option('--sysctl <kv>', 'namespaced sysctl', collect, [])
    .option('--tmpfs <mount>', 'tmpfs mount path[:options]', collect, [])
    .option('--device <dev>', 'host device', collect, [])
    .option('-v, --volume <bind>', 'bind mount or named volume', collect, [])
    .option('--mount <spec>', 'mount', collect, [])
    .option('--group-add <group>', 'additional group', collect, [])
    .option('--shm-size <bytes>', 'size of /dev/shm')
    .option('--pid <mode>', 'pid namespace')
    .option('--ipc <mode>', 'ipc namespace')
    .option('--uts <mode>', 'uts namespace')
    .option('--userns <mode>', 'user namespace')
    .option('--cgroupns <mode>', 'cgroup namespace')
    .option('--stop-signal <sig>', 'stop signal')
    .option('--stop-timeout <s>', 'stop timeout')
    .option('--oom-kill-disable', 'disable the OOM killer');
}

function flagsOf(o: Record<string, unknown>): RunFlags {
  return o as unknown as RunFlags;
}

async function createContainer(client: Client, image: string, cmd: string[], f: RunFlags): Promise<string> {
  const q = f.name ? `?name=${encodeURIComponent(f.name)}` : '';
  const out = await client.json<{ Id: string; Warnings: string[] }>('POST', `/containers/create${q}`, buildCreateBody(image, cmd, f));
  for (const w of out.Warnings ?? []) process.stderr.write(`WARNING: ${w}\n`);
  return out.Id;
}

/** Copy a hijacked stream to stdout/stderr; resolves when the daemon closes it. */
function pump(sock: Duplex, tty: boolean, stdin: boolean): Promise<void> {
  return new Promise((resolve) => {
    const onData = tty ? (c: Buffer) => process.stdout.write(c) : demux((s, d) => (s === 2 ? process.stderr : process.stdout).write(d));
    sock.on('data', onData);
    sock.on('end', () => resolve());
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
    if (stdin) {
      if (tty && process.stdin.isTTY) process.stdin.setRawMode(true);
      process.stdin.on('data', (d) => sock.write(d));
      process.stdin.on('end', () => (sock as Duplex & { end(): void }).end());
    } else (sock as Duplex & { end(): void }).end();
  });
}

async function runCommand(client: Client, image: string, cmd: string[], f: RunFlags): Promise<number> {
  let id: string;
  try {
    id = await createContainer(client, image, cmd, f);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && /No such image/.test(err.message)) {
      process.stderr.write(`Unable to find image '${image}' locally\n`);
    }
    throw daemonError(err, runErrorCode(err));
  }
  if (f.detach) {
    try {
      await client.call('POST', `/containers/${id}/start`);
    } catch (err) {
      throw daemonError(err, runErrorCode(err));
    }
    process.stdout.write(`${id}\n`);
    return 0;
  }
  const sock = await client.hijack(`/containers/${id}/attach?stream=1&stdout=1&stderr=1${f.interactive ? '&stdin=1' : ''}`);
  const waitRes = await client.request('POST', `/containers/${id}/wait?condition=${f.rm ? 'removed' : 'next-exit'}`);
  const waitBody = readAll(waitRes);
  try {
    await client.call('POST', `/containers/${id}/start`);
  } catch (err) {
    sock.destroy();
    throw daemonError(err, runErrorCode(err));
  }
  if (f.tty && process.stdout.isTTY) {
    await client.call('POST', `/containers/${id}/resize?h=${process.stdout.rows}&w=${process.stdout.columns}`).catch(() => undefined);
    process.stdout.on('resize', () => void client.call('POST', `/containers/${id}/resize?h=${process.stdout.rows}&w=${process.stdout.columns}`).catch(() => undefined));
  }
  await pump(sock, f.tty === true, f.interactive === true);
  if (f.tty && process.stdin.isTTY) process.stdin.setRawMode(false);
  process.stdin.pause();
  const result = JSON.parse((await waitBody).toString('utf8') || '{}') as { StatusCode?: number; Error?: { Message: string } | null };
  if (result.Error) throw new ExitError(125, `Error: ${result.Error.Message}`);
  return result.StatusCode ?? 125;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(2) : v < 100 && i > 0 ? v.toFixed(1) : Math.round(v)}${units[i]}`;
}

export function buildProgram(): { program: Command; exitCode: () => number } {
  let exitCode = 0;
  const program = new Command('moat')
    .description('moat: a security-first container engine (Docker Engine API client)')
    .version('0.1.0')
    .option('-H, --host <addr>', 'daemon socket (default $DOCKER_HOST or unix:///run/moat/moat.sock)')
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride();
  const c = (): Client => clientOf(program);

  addRunFlags(program.command('run').description('create and start a container').argument('<image>').argument('[command...]').passThroughOptions()).action(async (image: string, cmd: string[], o: Record<string, unknown>) => {
    exitCode = await runCommand(c(), image, cmd, flagsOf(o));
  });
  addRunFlags(program.command('create').description('create a container').argument('<image>').argument('[command...]').passThroughOptions()).action(async (image: string, cmd: string[], o: Record<string, unknown>) => {
    try {
      process.stdout.write(`${await createContainer(c(), image, cmd, flagsOf(o))}\n`);
    } catch (err) {
      throw daemonError(err, 1);
    }
  });
  program.command('start').argument('<containers...>').option('-a, --attach', 'attach stdout/stderr').action(async (ids: string[], o: { attach?: boolean }) => {
    for (const id of ids) {
      try {
        if (o.attach) {
          const info = await c().json<{ Config: { Tty: boolean } }>('GET', `/containers/${id}/json`);
          const sock = await c().hijack(`/containers/${id}/attach?stream=1&stdout=1&stderr=1`);
          const w = c().request('POST', `/containers/${id}/wait?condition=next-exit`);
          await c().call('POST', `/containers/${id}/start`);
          await pump(sock, info.Config.Tty, false);
          const res = JSON.parse((await readAll(await w)).toString('utf8')) as { StatusCode: number };
          exitCode = res.StatusCode;
        } else {
          await c().call('POST', `/containers/${id}/start`);
          process.stdout.write(`${id}\n`);
        }
      } catch (err) {
        throw daemonError(err);
      }
    }
  });
  const simple = (name: string, desc: string, method: string, path: (id: string, o: Record<string, unknown>) => string, extra?: (cmd: Command) => Command): void => {
    let cmd = program.command(name).description(desc).argument('<containers...>');
    if (extra) cmd = extra(cmd);
    cmd.action(async (ids: string[], o: Record<string, unknown>) => {
      let failed = false;
      for (const id of ids) {
        try {
          await c().call(method, path(id, o));
          process.stdout.write(`${id}\n`);
        } catch (err) {
          failed = true;
          process.stderr.write(`${daemonError(err).message}\n`);
        }
      }
      if (failed) exitCode = 1;
    });
  };
  simple('stop', 'stop containers (SIGTERM, then SIGKILL after the timeout)', 'POST', (id, o) => `/containers/${id}/stop${o['time'] !== undefined ? `?t=${String(o['time'])}` : ''}${o['signal'] ? `${o['time'] !== undefined ? '&' : '?'}signal=${String(o['signal'])}` : ''}`, (cmd) => cmd.option('-t, --time <s>', 'seconds to wait before killing').option('-s, --signal <sig>', 'signal to send'));
  simple('restart', 'restart containers', 'POST', (id, o) => `/containers/${id}/restart${o['time'] !== undefined ? `?t=${String(o['time'])}` : ''}`, (cmd) => cmd.option('-t, --time <s>', 'seconds to wait before killing'));
  simple('kill', 'send a signal (default KILL)', 'POST', (id, o) => `/containers/${id}/kill${o['signal'] ? `?signal=${encodeURIComponent(String(o['signal']))}` : ''}`, (cmd) => cmd.option('-s, --signal <sig>', 'signal'));
  simple('rm', 'remove containers', 'DELETE', (id, o) => `/containers/${id}?force=${o['force'] ? 1 : 0}&v=${o['volumes'] ? 1 : 0}`, (cmd) => cmd.option('-f, --force', 'kill a running container first').option('-v, --volumes', 'remove anonymous volumes'));
  simple('pause', 'pause containers', 'POST', (id) => `/containers/${id}/pause`);
  simple('unpause', 'unpause containers', 'POST', (id) => `/containers/${id}/unpause`);

  program.command('rename').argument('<container>').argument('<new-name>').action(async (id: string, name: string) => {
    try {
      await c().call('POST', `/containers/${id}/rename?name=${encodeURIComponent(name)}`);
    } catch (err) {
      throw daemonError(err);
    }
  });
  program.command('wait').argument('<containers...>').action(async (ids: string[]) => {
    for (const id of ids) {
      try {
        const r = await c().json<{ StatusCode: number }>('POST', `/containers/${id}/wait`);
        process.stdout.write(`${r.StatusCode}\n`);
      } catch (err) {
        throw daemonError(err);
      }
    }
  });
  program
    .command('logs')
    .argument('<container>')
    .option('-f, --follow', 'follow')
    .option('-t, --timestamps', 'show timestamps')
    .option('-n, --tail <n>', 'lines from the end', 'all')
    .option('--since <t>', 'since (unix seconds)')
    .action(async (id: string, o: { follow?: boolean; timestamps?: boolean; tail: string; since?: string }) => {
      try {
        const info = await c().json<{ Id: string; Config: { Tty: boolean } }>('GET', `/containers/${id}/json`);
        const q = `stdout=1&stderr=1&tail=${encodeURIComponent(o.tail)}${o.follow ? '&follow=1' : ''}${o.timestamps ? '&timestamps=1' : ''}${o.since ? `&since=${o.since}` : ''}`;
        const res = await c().request('GET', `/containers/${info.Id}/logs?${q}`);
        if ((res.statusCode ?? 500) >= 400) throw new ApiError(res.statusCode ?? 500, JSON.parse((await readAll(res)).toString()).message);
        const onData = info.Config.Tty ? (d: Buffer) => process.stdout.write(d) : demux((s, d) => (s === 2 ? process.stderr : process.stdout).write(d));
        for await (const chunk of res) onData(chunk as Buffer);
      } catch (err) {
        throw daemonError(err);
      }
    });
  program
    .command('ps')
    .option('-a, --all', 'all containers')
    .option('-q, --quiet', 'ids only')
    .option('--no-trunc', 'full ids')
    .option('-f, --filter <kv>', 'filter key=value', collect, [])
    .action(async (o: { all?: boolean; quiet?: boolean; trunc: boolean; filter: string[] }) => {
      const filters: Record<string, Record<string, boolean>> = {};
      for (const f of o.filter) {
        const i = f.indexOf('=');
        const k = f.slice(0, i);
        (filters[k] ??= {})[f.slice(i + 1)] = true;
      }
      const q = `?all=${o.all ? 1 : 0}${o.filter.length ? `&filters=${encodeURIComponent(JSON.stringify(filters))}` : ''}`;
      try {
        const list = await c().json<Array<{ Id: string; Image: string; Command: string; Created: number; Status: string; Names: string[] }>>('GET', `/containers/json${q}`);
        if (o.quiet) {
          for (const x of list) process.stdout.write(`${o.trunc ? x.Id.slice(0, 12) : x.Id}\n`);
          return;
        }
        const now = Date.now() / 1000;
        const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'NAMES']];
        for (const x of list) {
          const ago = Math.max(0, Math.round(now - x.Created));
          const cmd = o.trunc && x.Command.length > 20 ? `${x.Command.slice(0, 19)}…` : x.Command;
          rows.push([o.trunc ? x.Id.slice(0, 12) : x.Id, x.Image, `"${cmd}"`, `${ago} seconds ago`, x.Status, x.Names.map((n) => n.slice(1)).join(',')]);
        }
        process.stdout.write(table(rows));
      } catch (err) {
        throw daemonError(err);
      }
    });
  program.command('inspect').argument('<names...>').option('--type <kind>', 'container or image').action(async (names: string[], o: { type?: string }) => {
    const out: unknown[] = [];
    for (const n of names) {
      const kinds = o.type ? [o.type] : ['container', 'image'];
      let found = false;
      for (const k of kinds) {
        try {
          out.push(await c().json('GET', k === 'image' ? `/images/${n}/json` : `/containers/${n}/json`));
          found = true;
          break;
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 404)) throw daemonError(err);
        }
      }
      if (!found) {
        process.stdout.write(JSON.stringify(out, null, 4) + '\n');
        throw new ExitError(1, `Error: No such object: ${n}`);
      }
    }
    process.stdout.write(JSON.stringify(out, null, 4) + '\n');
  });
  program
    .command('exec')
    .argument('<container>')
    .argument('<command...>')
    .option('-i, --interactive', 'keep stdin open')
    .option('-t, --tty', 'allocate a terminal')
    .option('-d, --detach', 'run in the background')
    .option('-e, --env <var>', 'environment variable', collect, [])
    .option('-u, --user <user>', 'user')
    .option('-w, --workdir <dir>', 'working directory')
    .passThroughOptions()
    .action(async (id: string, cmd: string[], o: { interactive?: boolean; tty?: boolean; detach?: boolean; env: string[]; user?: string; workdir?: string }) => {
      try {
        const e = await c().json<{ Id: string }>('POST', `/containers/${id}/exec`, {
          User: o.user ?? '',
          Privileged: false,
          Tty: o.tty === true,
          AttachStdin: o.interactive === true && !o.detach,
          AttachStderr: !o.detach,
          AttachStdout: !o.detach,
          Detach: o.detach === true,
          DetachKeys: '',
          Env: o.env.length ? o.env : null,
          WorkingDir: o.workdir ?? '',
          Cmd: cmd,
        });
        if (o.detach) {
          await c().call('POST', `/exec/${e.Id}/start`, { Detach: true, Tty: o.tty === true });
          return;
        }
        const sock = await c().hijack(`/exec/${e.Id}/start`, { Detach: false, Tty: o.tty === true });
        await pump(sock, o.tty === true, o.interactive === true);
        if (o.tty && process.stdin.isTTY) process.stdin.setRawMode(false);
        process.stdin.pause();
        const info = await c().json<{ ExitCode: number | null }>('GET', `/exec/${e.Id}/json`);
        exitCode = info.ExitCode ?? 126;
      } catch (err) {
        throw daemonError(err, 1);
      }
    });
  program.command('top').argument('<container>').action(async (id: string) => {
    try {
      const t = await c().json<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${id}/top`);
      process.stdout.write(table([t.Titles, ...t.Processes]));
    } catch (err) {
      throw daemonError(err);
    }
  });
  const verifyImage = async (image: string, json: boolean): Promise<void> => {
    interface Verdict { allowed: boolean; requirement: { qualified: string; rule: string }; reasons: string[] }
    interface Report { image: string; id: string; allowed: boolean; verdicts: Verdict[]; signatures: Array<{ repository: string; digest: string; keyFingerprint: string; time: string }> }
    let r: Report;
    try {
      r = await c().json<Report>('GET', `/images/${image}/trust`);
    } catch (err) {
      throw daemonError(err);
    }
    if (json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else {
      process.stdout.write(`${r.image} (${r.id.slice(7, 19)}): ${r.allowed ? 'ALLOWED' : 'REFUSED'} by the image trust policy\n`);
      for (const v of r.verdicts) {
        process.stdout.write(`  ${v.requirement.qualified || '(no name)'}: rule ${v.requirement.rule}: ${v.allowed ? 'allowed' : 'refused'}\n`);
        for (const reason of v.reasons) process.stdout.write(`    - ${reason}\n`);
      }
      for (const s of r.signatures) process.stdout.write(`  verified signature: ${s.repository}@${s.digest} by ${s.keyFingerprint} (${s.time})\n`);
    }
    if (!r.allowed) exitCode = 1;
  };
  program.command('images').argument('[verb]', '`verify` to explain the trust verdict').argument('[image]').option('-q, --quiet', 'ids only').option('--json', 'with verify: JSON').action(async (verb: string | undefined, target: string | undefined, o: { quiet?: boolean; json?: boolean }) => {
    if (verb !== undefined) {
      if (verb !== 'verify' || target === undefined) throw new Error('usage: moat images [-q] | moat images verify IMAGE');
      await verifyImage(target, o.json === true);
      return;
    }
    try {
      const list = await c().json<Array<{ Id: string; RepoTags: string[]; Created: number; Size: number }>>('GET', '/images/json');
      if (o.quiet) {
        for (const i of list) process.stdout.write(`${i.Id.slice(7, 19)}\n`);
        return;
      }
      const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE']];
      for (const i of list) {
        const tags = i.RepoTags.length > 0 ? i.RepoTags : ['<none>:<none>'];
        for (const t of tags) {
          const k = t.lastIndexOf(':');
          rows.push([t.slice(0, k), t.slice(k + 1), i.Id.slice(7, 19), humanSize(i.Size)]);
        }
      }
      process.stdout.write(table(rows));
    } catch (err) {
      throw daemonError(err);
    }
  });
  program
    .command('import')
    .argument('<file>', 'tarball, or - for stdin')
    .argument('[reference]')
    .option('-c, --change <instruction>', 'CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL…', collect, [])
    .option('-m, --message <msg>', 'commit message')
    .action(async (file: string, ref: string | undefined, o: { change: string[]; message?: string }) => {
      const q = new URLSearchParams({ fromSrc: '-' });
      if (ref) q.set('repo', ref);
      for (const ch of o.change) q.append('changes', ch);
      if (o.message) q.set('message', o.message);
      const input = file === '-' ? process.stdin : createReadStream(file);
      try {
        const res = await c().request('POST', `/images/create?${q.toString()}`, { raw: input, headers: { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' } });
        const body = (await readAll(res)).toString('utf8');
        if ((res.statusCode ?? 500) >= 400) throw new ApiError(res.statusCode ?? 500, (JSON.parse(body) as { message: string }).message);
        const last = body.trim().split('\n').pop() ?? '{}';
        process.stdout.write(`${(JSON.parse(last) as { status: string }).status}\n`);
      } catch (err) {
        throw daemonError(err);
      }
    });
  program.command('tag').argument('<source>').argument('<target>').action(async (src: string, target: string) => {
    const k = target.lastIndexOf(':');
    const [repo, tag] = k > target.lastIndexOf('/') ? [target.slice(0, k), target.slice(k + 1)] : [target, 'latest'];
    try {
      await c().call('POST', `/images/${src}/tag?repo=${encodeURIComponent(repo)}&tag=${encodeURIComponent(tag)}`);
    } catch (err) {
      throw daemonError(err);
    }
  });
  program.command('rmi').argument('<images...>').option('-f, --force', 'force').action(async (names: string[], o: { force?: boolean }) => {
    for (const n of names) {
      try {
        const out = await c().json<Array<Record<string, string>>>('DELETE', `/images/${n}?force=${o.force ? 1 : 0}`);
        for (const x of out) process.stdout.write(x['Untagged'] ? `Untagged: ${x['Untagged']}\n` : `Deleted: ${x['Deleted']}\n`);
      } catch (err) {
        process.stderr.write(`${daemonError(err).message}\n`);
        exitCode = 1;
      }
    }
  });
  program.command('version').action(async () => {
    try {
      const v = await c().json<{ Version: string; ApiVersion: string; Components: Array<{ Name: string; Version: string }> }>('GET', '/version');
      process.stdout.write(`Server: moat ${v.Version} (API ${v.ApiVersion})\n${v.Components.map((x) => ` ${x.Name}: ${x.Version}`).join('\n')}\n`);
    } catch (err) {
      throw daemonError(err);
    }
  });
  program.command('info').action(async () => {
    try {
      process.stdout.write(JSON.stringify(await c().json('GET', '/info'), null, 2) + '\n');
    } catch (err) {
      throw daemonError(err);
    }
  });
  program.command('events').option('--since <t>').option('--until <t>').option('-f, --filter <kv>', 'filter', collect, []).action(async (o: { since?: string; until?: string; filter: string[] }) => {
    const filters: Record<string, Record<string, boolean>> = {};
    for (const f of o.filter) {
      const i = f.indexOf('=');
      (filters[f.slice(0, i)] ??= {})[f.slice(i + 1)] = true;
    }
    const q = new URLSearchParams();
    if (o.since) q.set('since', o.since);
    if (o.until) q.set('until', o.until);
    if (o.filter.length) q.set('filters', JSON.stringify(filters));
    const res = await c().request('GET', `/events?${q.toString()}`);
    let buf = '';
    for await (const chunk of res) {
      buf += String(chunk);
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const ev = JSON.parse(buf.slice(0, nl)) as { timeNano: number; Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } };
        buf = buf.slice(nl + 1);
        const attrs = Object.entries(ev.Actor.Attributes).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(', ');
        process.stdout.write(`${new Date(ev.timeNano / 1e6).toISOString()} ${ev.Type} ${ev.Action} ${ev.Actor.ID} (${attrs})\n`);
      }
    }
  });
  registerSeccompCommands(program, { client: c, setExit: (n) => (exitCode = n), readFile: (p) => readFileSync(p, 'utf8'), writeFile: (p, d) => writeFileSync(p, d) });
  registerAuthzCommands(program, { setExit: (n) => (exitCode = n) });
  void Option;
  return { program, exitCode: () => exitCode };
}

export async function main(argv: string[]): Promise<void> {
  // `moat … | head`: a closed pipe ends the output quietly, as the docker CLI does.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const { program, exitCode } = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    process.exitCode = exitCode();
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
      process.exitCode = 0;
      return;
    }
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // Flag errors: docker exits 125.
      process.exitCode = 125;
      return;
    }
    if (err instanceof ExitError) {
      if (err.message) process.stderr.write(`${err.message}\n`);
      process.exitCode = err.code;
      return;
    }
    process.stderr.write(`${daemonError(err).message}\n`);
    process.exitCode = 1;
  }
}
