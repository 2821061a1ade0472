/** `cairn serve`: runs the registry until SIGTERM or SIGINT. Loaded only for this command. */
import { createApp, createLogger } from '../app.js';
import type { CairnConfig } from '../config/config.js';
import { listenProblem } from './errors.js';

/** The listen address cannot be used (in use, not on this machine, no permission). */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

export async function serve(config: CairnConfig): Promise<void> {
  const logger = createLogger(config.logLevel);
  const app = await createApp(config, logger);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    await app.listen();
  } catch (error) {
    closing = true;
    await app.close().catch(() => undefined);
    const { host, port } = config.listen;
    throw new ListenError(`cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${listenProblem(error)}`, { cause: error });
  }
}
