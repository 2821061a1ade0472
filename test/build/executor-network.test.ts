/**
 * A build step must never reach the host's loopback services: not PostgreSQL on 127.0.0.1:5432,
 * not a server the test starts on 127.0.0.1 (standing in for Cairn's own port), in either network
 * mode. With 'outbound', a service on a non-loopback host address is reachable (there is no
 * internet here to try) and DNS goes to slirp's forwarder.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { executorFixture, type ExecutorFixture } from './executor-support.js';

/** From the executor session's port range. */
const LOOPBACK_PORT = 5652;
const HOST_PORT = 5653;

/** `nc` from busybox: prints "open" when a TCP connection could be made. */
function probe(host: string, port: number): string {
  return `if printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 3 ${host} ${port} | grep -q reply-from-host; then echo "${host}:${port} open"; else echo "${host}:${port} closed"; fi`;
}

describe('runc executor: network', () => {
  let fx: ExecutorFixture;
  const servers: Server[] = [];
  let hostAddress: string;

  before(async () => {
    fx = await executorFixture();
    const address = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && !a.internal && a.family === 'IPv4')?.address;
    assert.ok(address, 'the machine has a non-loopback IPv4 address');
    hostAddress = address;
    for (const [host, port] of [['127.0.0.1', LOOPBACK_PORT], [hostAddress, HOST_PORT]] as const) {
      const server = createServer((_req, res) => res.end('reply-from-host'));
      server.listen(port, host);
      await once(server, 'listening');
      servers.push(server);
    }
  });
  after(async () => {
    for (const server of servers) server.close();
    await fx?.close();
  });

  test("network none: only the step's own loopback, no host service at all", async () => {
    const r = await fx.run(
      ['ip -o link | cut -d: -f2 | tr -d " "', probe('127.0.0.1', 5432), probe('127.0.0.1', LOOPBACK_PORT), probe(hostAddress, HOST_PORT), probe('10.0.2.2', LOOPBACK_PORT)].join('; '),
      { network: 'none' },
    );
    assert.equal(
      r.stdout,
      ['lo', '127.0.0.1:5432 closed', `127.0.0.1:${LOOPBACK_PORT} closed`, `${hostAddress}:${HOST_PORT} closed`, `10.0.2.2:${LOOPBACK_PORT} closed`, ''].join('\n'),
      r.stderr,
    );
  });

  test("network outbound: host addresses reachable, the host's loopback never", async () => {
    const r = await fx.run(
      [
        probe(hostAddress, HOST_PORT),
        probe('127.0.0.1', 5432),
        probe('127.0.0.1', LOOPBACK_PORT),
        // slirp's alias for the host, which would lead to the host's 127.0.0.1 without --disable-host-loopback.
        probe('10.0.2.2', 5432),
        probe('10.0.2.2', LOOPBACK_PORT),
      ].join('; '),
      { network: 'outbound' },
    );
    assert.equal(
      r.stdout,
      [`${hostAddress}:${HOST_PORT} open`, '127.0.0.1:5432 closed', `127.0.0.1:${LOOPBACK_PORT} closed`, '10.0.2.2:5432 closed', `10.0.2.2:${LOOPBACK_PORT} closed`, ''].join('\n'),
      r.stderr,
    );
  });

  test('network outbound: DNS through slirp, never the host loopback resolver', async () => {
    const r = await fx.run('cat /etc/resolv.conf; nslookup cairn-test.invalid 2>&1; true', { network: 'outbound' });
    assert.match(r.stdout, /^nameserver 10\.0\.2\.3\n/);
    const hostHasResolver = /^nameserver /m.test(await readFile('/etc/resolv.conf', 'utf8').catch(() => ''));
    // An answer (NXDOMAIN for a name that cannot exist) shows the forwarder reached the host's resolver.
    if (hostHasResolver) assert.match(r.stdout, /NXDOMAIN|can't find/, r.stdout);
  });
});
