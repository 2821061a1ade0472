/**
 * `cairn tls self-signed`, as an entry of the command table (commands.ts). The implementation
 * (tls.ts, and with it node-forge) is imported only when it runs.
 */
import type { Command } from './commands.js';
import { UsageError } from './errors.js';

export const TLS_COMMANDS: readonly Command[] = [
  {
    name: 'tls self-signed',
    summary: 'write a lab CA and a server certificate signed by it',
    description:
      'Writes ca.crt and ca.key (a certificate authority, kept and reused on later runs in the same --out), server.crt and server.key (for --tls-cert and --tls-key; replaced atomically, so a running server reloads them), then prints how to trust the CA with docker, podman and containerd. For a lab: in production use certificates from your own CA or ACME.',
    options: [
      { name: 'host', type: 'string', value: 'NAME[,NAME…]', help: 'host names or IP addresses the certificate is for (required)' },
      { name: 'out', type: 'string', value: 'DIR', help: 'where to write the files (default ./cairn-tls)' },
      { name: 'port', type: 'string', value: 'PORT', help: 'the port clients use, for the trust instructions (default 5000)' },
      { name: 'days', type: 'string', value: 'N', help: 'validity of the server certificate (default 397)' },
    ],
    whenDirectoryInUse: '',
    async run(options) {
      const hosts = String(options.values.host ?? '').split(',').map((h) => h.trim()).filter(Boolean);
      if (hosts.length === 0) throw new UsageError('cairn tls self-signed needs --host NAME (the name clients use to reach the registry)');
      const port = Number(options.values.port ?? 5000);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port: "${String(options.values.port)}" is not a port (1-65535)`);
      const days = Number(options.values.days ?? 397);
      if (!Number.isInteger(days) || days < 1 || days > 3650) throw new UsageError(`--days: "${String(options.values.days)}" is not a whole number of days (1-3650)`);
      const { writeSelfSigned } = await import('./tls.js');
      await writeSelfSigned({ hosts, out: String(options.values.out ?? 'cairn-tls'), port, days });
    },
  },
];
