// `moat restart [-t S] CONTAINER…`
import type { Command } from 'commander';
import { registerPerContainerVerb, type CliContext } from '../common.js';

export function registerRestartCommand(program: Command, ctx: CliContext): void {
  registerPerContainerVerb(program, ctx, {
    name: 'restart',
    description: 'restart containers',
    method: 'POST',
    path: (id, o) => `/containers/${id}/restart${o['time'] !== undefined ? `?t=${String(o['time'])}` : ''}`,
    options: (cmd) => cmd.option('-t, --time <s>', 'seconds to wait before killing'),
  });
}
