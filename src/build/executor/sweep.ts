/**
 * Leftovers of worker processes that died mid-step (killed, crashed, the machine's OOM killer):
 * their containers in runc's state directory, their bundles, their step cgroups. Every name the
 * executor makes carries the pid of the process that made it (`cairn-<pid>-...`, and an `owner`
 * file in each bundle), so one worker sweeps only what belongs to processes that are gone,
 * never a live neighbour's steps on the same machine.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupHost } from './cgroups.js';

const OWNED = /^cairn-(\d+)-/;

export function stepId(random: string): string {
  return `cairn-${process.pid}-${random}`;
}

export interface SweepOptions {
  readonly runc: string;
  readonly stateDir: string;
  readonly bundleRoot: string;
  readonly cgroups: CgroupHost;
}

export async function sweepLeftovers(options: SweepOptions): Promise<void> {
  for (const id of await deadOwners(await readdir(options.stateDir).catch(() => []))) {
    const child = spawn(options.runc, ['--root', options.stateDir, 'delete', '--force', id], { stdio: 'ignore' });
    await once(child, 'close');
  }
  for (const bundle of await readdir(options.bundleRoot).catch(() => [])) {
    const owner = Number(await readFile(join(options.bundleRoot, bundle, 'owner'), 'utf8').catch(() => '0'));
    if (owner > 0 && !alive(owner)) await rm(join(options.bundleRoot, bundle), { recursive: true, force: true });
  }
  for (const id of await deadOwners(options.cgroups.stepIds())) await options.cgroups.step(id).remove();
}

async function deadOwners(names: readonly string[]): Promise<string[]> {
  return names.filter((name) => {
    const owner = OWNED.exec(name)?.[1];
    return owner !== undefined && !alive(Number(owner));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
