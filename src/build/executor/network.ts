/**
 * Outbound-only networking for a step: a network namespace of its own, held open by a small
 * process (`unshare --net cat`, which ends when its stdin closes, so it cannot outlive us), with
 * slirp4netns giving it a user-mode NAT to the outside. The container joins that namespace.
 *
 * slirp4netns runs with --disable-host-loopback: 10.0.2.2 (slirp's alias for the host) does not
 * lead to the host's 127.0.0.1, and the step's own 127.0.0.1 is its own loopback, so services that
 * listen on the host's loopback (PostgreSQL, Cairn's own port) are out of reach. DNS goes to
 * slirp's forwarder at 10.0.2.3, which uses the host's resolvers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readlink } from 'node:fs/promises';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { SandboxStartError } from './errors.js';

export const SLIRP_DNS = '10.0.2.3';
const READY_TIMEOUT_MS = 10_000;

export interface OutboundNetwork {
  /** The namespace for linux.namespaces[network].path. */
  readonly namespacePath: string;
  close(): Promise<void>;
}

export async function startOutboundNetwork(slirp4netns: string): Promise<OutboundNetwork> {
  const holder = spawn('unshare', ['--net', '--', 'cat'], { stdio: ['pipe', 'ignore', 'ignore'] });
  let slirp: ChildProcess | undefined;
  const close = async (): Promise<void> => {
    await Promise.all([slirp, holder].map((child) => child && stop(child)));
  };
  try {
    const pid = await spawned(holder);
    await waitForOwnNamespace(pid);
    // fd 3: slirp writes "1" once tap0 is configured; fd 4: slirp exits when it closes.
    slirp = spawn(slirp4netns, ['--configure', '--mtu=65520', '--disable-host-loopback', '--enable-sandbox', '--enable-seccomp', '--ready-fd=3', '--exit-fd=4', String(pid), 'tap0'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    });
    await slirpReady(slirp);
    return { namespacePath: `/proc/${pid}/ns/net`, close };
  } catch (err) {
    await close();
    throw err;
  }
}

async function spawned(child: ChildProcess): Promise<number> {
  if (child.pid === undefined) {
    const [err] = (await once(child, 'error')) as [Error];
    throw new SandboxStartError(`cannot start unshare: ${err.message}`);
  }
  return child.pid;
}

/** unshare(1) creates the namespace and then execs; wait until the pid is in a namespace of its own. */
async function waitForOwnNamespace(pid: number): Promise<void> {
  const ours = await readlink('/proc/self/ns/net');
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const theirs = await readlink(`/proc/${pid}/ns/net`).catch(() => undefined);
    if (theirs === undefined) throw new SandboxStartError('the network namespace holder exited');
    if (theirs !== ours) return;
    await sleep(1);
  }
  throw new SandboxStartError('the network namespace was not created in time');
}

async function slirpReady(slirp: ChildProcess): Promise<void> {
  const stderr: Buffer[] = [];
  slirp.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  const ready = slirp.stdio[3];
  if (!ready) throw new SandboxStartError('slirp4netns has no ready pipe');
  const outcome = await Promise.race([
    once(ready, 'data').then(() => 'ready' as const),
    once(slirp, 'exit').then(() => 'exited' as const),
    once(slirp, 'error').then(() => 'exited' as const),
    sleep(READY_TIMEOUT_MS).then(() => 'timeout' as const),
  ]);
  if (outcome !== 'ready') {
    throw new SandboxStartError(`slirp4netns did not configure the network (${outcome}): ${Buffer.concat(stderr).toString().trim()}`);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}
