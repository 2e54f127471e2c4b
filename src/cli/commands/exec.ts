// `moat exec [-i] [-t] [-d] [-e VAR…] [-u USER] [-w DIR] CONTAINER COMMAND…`: exits with
// the exec's code.
import type { Command } from 'commander';
import { collect, daemonError, pump, type CliContext } from '../common.js';

export function registerExecCommand(program: Command, ctx: CliContext): void {
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
      const c = ctx.client;
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
        ctx.setExit(info.ExitCode ?? 126);
      } catch (err) {
        throw daemonError(err, 1);
      }
    });
}
