// `moat run IMAGE [COMMAND…]`: create, attach, start, wait; exits with the container's code
// (125/126/127 when it cannot be created or started, as the docker CLI).
import type { Command } from 'commander';
import { ApiError, readAll, type Client } from '../client.js';
import { ExitError, daemonError, pump, runErrorCode, type CliContext } from '../common.js';
import { addRunFlags, flagsOf, type RunFlags } from '../run-options.js';
import { createContainer } from './create.js';

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
  // Read the attach stream from now on: a short-lived container can finish (and the daemon
  // close the stream) before the start call below has returned.
  const pumped = pump(sock, f.tty === true, f.interactive === true);
  const waitRes = await client.request('POST', `/containers/${id}/wait?condition=${f.rm ? 'removed' : 'next-exit'}`);
  const waitBody = readAll(waitRes);
  try {
    await client.call('POST', `/containers/${id}/start`);
  } catch (err) {
    sock.destroy();
    throw daemonError(err, runErrorCode(err));
  }
  if (f.tty && process.stdout.isTTY) {
    // Listen before the first size goes out (a resize meanwhile would be lost, as it is by
    // the docker CLI), and send one at a time, each read when sent, so the last one wins.
    let sent = Promise.resolve();
    const sendSize = (): void => {
      sent = sent.then(() => client.call('POST', `/containers/${id}/resize?h=${process.stdout.rows}&w=${process.stdout.columns}`)).then(() => undefined, () => undefined);
    };
    process.stdout.on('resize', sendSize);
    sendSize();
    await sent;
  }
  await pumped;
  if (f.tty && process.stdin.isTTY) process.stdin.setRawMode(false);
  process.stdin.pause();
  const result = JSON.parse((await waitBody).toString('utf8') || '{}') as { StatusCode?: number; Error?: { Message: string } | null };
  if (result.Error) throw new ExitError(125, `Error: ${result.Error.Message}`);
  return result.StatusCode ?? 125;
}

export function registerRunCommand(program: Command, ctx: CliContext): void {
  addRunFlags(program.command('run').description('create and start a container').argument('<image>').argument('[command...]').passThroughOptions()).action(async (image: string, cmd: string[], o: Record<string, unknown>) => {
    ctx.setExit(await runCommand(ctx.client(), image, cmd, flagsOf(o)));
  });
}
