// Starts the reference registry (CNCF distribution 2.8, Debian's docker-registry) on a free 127.0.0.1 port
// in 5700-5749, with filesystem storage in a temp dir and deletes enabled. The client tests run against it
// with CAIRN_CLIENT_TARGET=reference, to tell a client's own quirks from Cairn's bugs.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REFERENCE_BINARY, startOnFreePort, stopChild, tempDir, waitFor, type RegistryUnderTest } from './clients.js';

function configYaml(port: number, storageDir: string): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storageDir}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '',
  ].join('\n');
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Starts the registry on one port; resolves to the child once /v2/ answers, or null if it exited (port taken). */
async function tryPort(dir: string, port: number): Promise<ChildProcess | null> {
  const configPath = join(dir, `config-${port}.yml`);
  writeFileSync(configPath, configYaml(port, join(dir, 'storage')));
  const child = spawn(REFERENCE_BINARY, ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let exited = false;
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  child.on('exit', () => { exited = true; });
  await waitFor(async () => exited || (await answers(`http://127.0.0.1:${port}`)), 15_000,
    () => `reference registry on ${port} not ready: ${stderr}`);
  if (!exited) return child;
  if (/address already in use/.test(stderr)) return null;
  throw new Error(`reference registry on port ${port} exited: ${stderr}`);
}

export async function startReference(): Promise<RegistryUnderTest> {
  const dir = tempDir('reference');
  try {
    const { port, child } = await startOnFreePort('the reference registry', async (port) => {
      const child = await tryPort(dir, port);
      return child ? { port, child } : null;
    });
    const hostPort = `127.0.0.1:${port}`;
    return {
      kind: 'reference',
      url: `http://${hostPort}`,
      hostPort,
      dataDir: join(dir, 'storage'),
      async stop() {
        await stopChild(child);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
