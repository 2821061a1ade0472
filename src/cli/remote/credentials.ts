/**
 * Where `cairn login` keeps what later commands need to reach the server: the server's URL, the
 * account name and a refresh token from the token endpoint (never the password). The file is
 * `$XDG_CONFIG_HOME/cairn/credentials.json` (default `~/.config`), mode 0600 in a 0700 directory,
 * written whole to a temporary file and renamed, so a crash never leaves half of it.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RemoteError } from './errors.js';

export interface StoredLogin {
  readonly url: string;
  readonly username: string;
  readonly refreshToken: string;
}

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'cairn', 'credentials.json');
}

export async function saveLogin(login: StoredLogin, path = credentialsPath()): Promise<void> {
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  // The mode given to writeFile is masked by the umask and ignored for an existing file.
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

export async function loadLogin(path = credentialsPath()): Promise<StoredLogin> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new RemoteError('not logged in: run cairn login URL first');
    throw error;
  }
  let parsed: Partial<StoredLogin>;
  try {
    parsed = JSON.parse(text) as Partial<StoredLogin>;
  } catch {
    throw new RemoteError(`${path} is not valid JSON: run cairn login URL again`);
  }
  if (typeof parsed.url !== 'string' || typeof parsed.username !== 'string' || typeof parsed.refreshToken !== 'string') {
    throw new RemoteError(`${path} lacks url, username or refreshToken: run cairn login URL again`);
  }
  return { url: parsed.url, username: parsed.username, refreshToken: parsed.refreshToken };
}
