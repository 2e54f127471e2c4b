// `moat stop [-t S] [-s SIG] CONTAINER…`
import type { Command } from 'commander';
import { registerPerContainerVerb, type CliContext } from '../common.js';

export function registerStopCommand(program: Command, ctx: CliContext): void {
  registerPerContainerVerb(program, ctx, {
    name: 'stop',
    description: 'stop containers (SIGTERM, then SIGKILL after the timeout)',
    method: 'POST',
    path: (id, o) => `/containers/${id}/stop${o['time'] !== undefined ? `?t=${String(o['time'])}` : ''}${o['signal'] ? `${o['time'] !== undefined ? '&' : '?'}signal=${String(o['signal'])}` : ''}`,
    options: (cmd) => cmd.option('-t, --time <s>', 'seconds to wait before killing').option('-s, --signal <sig>', 'signal to send'),
  });
}
