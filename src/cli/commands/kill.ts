// `moat kill [-s SIG] CONTAINER…`
import type { Command } from 'commander';
import { registerPerContainerVerb, type CliContext } from '../common.js';

export function registerKillCommand(program: Command, ctx: CliContext): void {
  registerPerContainerVerb(program, ctx, {
    name: 'kill',
    description: 'send a signal (default KILL)',
    method: 'POST',
    path: (id, o) => `/containers/${id}/kill${o['signal'] ? `?signal=${encodeURIComponent(String(o['signal']))}` : ''}`,
    options: (cmd) => cmd.option('-s, --signal <sig>', 'signal'),
  });
}
