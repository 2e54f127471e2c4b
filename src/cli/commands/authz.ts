// `moat authz serve|check`: the built-in policy as a standalone Docker AuthZ plugin, and
// offline decisions.
import type { Command } from 'commander';
import { createLogger, errorText } from '../../base/index.js';
import { runAuthzCheck, runAuthzServe } from '../../authz/index.js';

export function registerAuthzCommands(program: Command, deps: { setExit: (code: number) => void }): void {
  const az = program.command('authz').description('the built-in authorization policy');
  az.command('serve')
    .description('serve a policy file as a Docker AuthZ plugin on a unix socket (dockerd --authorization-plugin)')
    .requiredOption('--policy <file>', 'policy file (JSON)')
    .requiredOption('--socket <path>', 'socket path, e.g. /run/docker/plugins/moat-policy.sock')
    .action(async (o: { policy: string; socket: string }) => {
      const log = createLogger('info');
      const server = await runAuthzServe({ policyPath: o.policy, socketPath: o.socket, log });
      // A policy that no longer parses keeps the running one (reload() throws, logged here).
      process.on('SIGHUP', () => {
        server.reload().catch((err: unknown) => log.error({ err: errorText(err) }, 'policy reload failed; keeping the running policy'));
      });
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          void server.close().then(resolve);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
  az.command('check')
    .description('decide one request offline and print the decision and the rule')
    .requiredOption('--policy <file>', 'policy file (JSON)')
    .argument('<request>', 'request JSON: an AuthZReq wire body, or {Method, URI, Body}')
    .action(async (request: string, o: { policy: string }) => {
      const d = await runAuthzCheck({ policyPath: o.policy, requestPath: request });
      process.stdout.write(`${d.allow ? 'allow' : 'deny'}\nrule: ${d.rule}\n${d.msg ? `message: ${d.msg}\n` : ''}`);
      deps.setExit(d.allow ? 0 : 1);
    });
}
