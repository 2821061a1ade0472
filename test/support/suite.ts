/**
 * Runs a block of HTTP tests once per test database, each against its own freshly started Cairn.
 */
import { after, before, describe } from 'node:test';
import { startCairn, testDatabases, type CairnOptions, type StartedCairn, type TestDatabase } from './registry.js';

export interface ServerContext {
  /** The running server (set in `before`). */
  readonly server: StartedCairn;
  readonly base: string;
  readonly database: TestDatabase;
}

export function describeOnEachDatabase(title: string, body: (ctx: ServerContext) => void, options: Omit<CairnOptions, 'database'> = {}): void {
  for (const database of testDatabases()) {
    describe(`${title} [${database}]`, () => {
      let server: StartedCairn | undefined;
      const ctx: ServerContext = {
        get server() {
          if (!server) throw new Error('server not started');
          return server;
        },
        get base() {
          return ctx.server.url;
        },
        database,
      };
      before(async () => {
        server = await startCairn({ ...options, database });
      });
      after(async () => {
        await server?.stop();
      });
      body(ctx);
    });
  }
}
