/** Whether runc (which runs RUN steps) is on the PATH: without it no build worker starts. */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export async function findRunc(path: string = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'runc');
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
