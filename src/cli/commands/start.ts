// `moat start [-a] CONTAINER…`: start; with -a, attach and exit with the container's code.
import type { Command } from 'commander';
import { readAll } from '../client.js';
import { daemonError, pump, type CliContext } from '../common.js';

export function registerStartCommand(program: Command, ctx: CliContext): void {
  program.command('start').argument('<containers...>').option('-a, --attach', 'attach stdout/stderr').action(async (ids: string[], o: { attach?: boolean }) => {
    const c = ctx.client;
    for (const id of ids) {
      try {
        if (o.attach) {
          const info = await c().json<{ Config: { Tty: boolean } }>('GET', `/containers/${id}/json`);
          const sock = await c().hijack(`/containers/${id}/attach?stream=1&stdout=1&stderr=1`);
          const pumped = pump(sock, info.Config.Tty, false);
          const w = c().request('POST', `/containers/${id}/wait?condition=next-exit`);
          await c().call('POST', `/containers/${id}/start`).catch((err: unknown) => {
            sock.destroy();
            throw err;
          });
          await pumped;
          const res = JSON.parse((await readAll(await w)).toString('utf8')) as { StatusCode: number };
          ctx.setExit(res.StatusCode);
        } else {
          await c().call('POST', `/containers/${id}/start`);
          process.stdout.write(`${id}\n`);
        }
      } catch (err) {
        throw daemonError(err);
      }
    }
  });
}
