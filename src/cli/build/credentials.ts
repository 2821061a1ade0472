/**
 * Credentials as the other clients keep them: docker's config.json (`$DOCKER_CONFIG/config.json`,
 * else `~/.docker/config.json`), `auths[HOST]` with `auth` (base64 user:password) or
 * `username`/`password`. Sent as HTTP Basic, which Cairn's API takes as /v2/ does (a robot
 * secret or personal access token works as the password).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export function dockerCredentials(host: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env.DOCKER_CONFIG ?? join(homedir(), '.docker');
  let config: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const entry = config.auths?.[host] ?? config.auths?.[`http://${host}`] ?? config.auths?.[`https://${host}`];
  if (!entry) return undefined;
  if (entry.auth) return `Basic ${entry.auth}`;
  if (entry.username && entry.password) return `Basic ${Buffer.from(`${entry.username}:${entry.password}`).toString('base64')}`;
  return undefined;
}
