/** Cairn's version: the one in package.json, read when asked (not at every start). */
import { readFileSync } from 'node:fs';

export function cairnVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}
