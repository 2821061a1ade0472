// Cairn serving TLS itself (--tls-cert/--tls-key) with a lab CA from `cairn tls self-signed`: HTTP/2
// and HTTP/1.1 by ALPN, the raw-socket refusals and streamed uploads over both, real clients that
// verify the certificate (skopeo --cert-dir, podman --cert-dir, ctr --hosts-dir: each trusts only the
// lab CA, no insecure flag), and a certificate swapped on disk served without a restart.
// docker is left out: dockerd reads CAs only from /etc/docker/certs.d, machine-wide state a test
// must not write.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import {
  Client, REPO_ROOT, SLOW, clientSuite, containersStorageArgs, expectSuccess, repoName, runCommand, startContainerd,
  startOnFreePort, tempDir, type SuiteContext,
} from '../support/clients.js';
import { buildBusyboxOciLayout, type BuiltImage } from '../support/images.js';
import { startCairn, type StartedCairn } from '../support/registry.js';

const TLS_PORTS = { first: 9443, last: 9449 };

clientSuite('TLS', ['skopeo', 'podman', 'ctr', 'containerd'], () => {
  let dir: string;
  let tlsDir: string;
  let ca: Buffer;
  let cairn: StartedCairn;
  let host: string;
  let image: BuiltImage;
  let layout: string;
  const repo = repoName('tls');
  const cleanups: Array<() => Promise<void> | void> = [];
  // What startContainerd uses of a suite context (its dir and cleanups); Cairn here is started with TLS flags.
  const ctx = { defer: (fn: () => Promise<void> | void) => void cleanups.push(fn) } as unknown as SuiteContext;

  /** `cairn tls self-signed` into tlsDir: a new CA the first time, a renewed server certificate after. */
  const selfSigned = async () => {
    const r = expectSuccess(await runCommand(process.execPath, [join(REPO_ROOT, 'bin/cairn.js'), 'tls', 'self-signed', '--host', '127.0.0.1,localhost', '--out', tlsDir, '--port', '9443']));
    return r.stdout;
  };

  before(async () => {
    dir = tempDir('tls');
    ctx.dir = dir;
    tlsDir = join(dir, 'tls');
    const printed = await selfSigned();
    assert.match(printed, /\/etc\/docker\/certs\.d\/127\.0\.0\.1:9443\/ca\.crt/);
    assert.match(printed, /\/etc\/containers\/certs\.d\/127\.0\.0\.1:9443\/ca\.crt/);
    assert.match(printed, /hosts\.toml[\s\S]*ca = "/);
    ca = readFileSync(join(tlsDir, 'ca.crt'));
    const database = process.env.CAIRN_CLIENT_DATABASE as 'pglite' | 'postgres' | undefined;
    cairn = await startOnFreePort('cairn (TLS)', async (port) => {
      try {
        return await startCairn({
          ...(database ? { database } : {}),
          extraArgs: ['--listen', `127.0.0.1:${port}`, '--tls-cert', join(tlsDir, 'server.crt'), '--tls-key', join(tlsDir, 'server.key')],
        });
      } catch (err) {
        if (/EADDRINUSE/.test(String(err))) return null;
        throw err;
      }
    }, TLS_PORTS);
    host = cairn.hostPort;
    assert.ok(cairn.url.startsWith('https://'), cairn.url);
    layout = join(dir, 'layout');
    image = buildBusyboxOciLayout(layout, { tag: 'v1', extraFile: { path: 'etc/client', content: 'tls' } });
  }, { timeout: 120_000 });

  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
    await cairn?.stop();
  }, { timeout: 120_000 });

  test('ALPN: HTTP/2 for clients that offer it, HTTP/1.1 for the others; only the lab CA is trusted', async () => {
    const session = await h2(ca);
    try {
      assert.equal(session.alpnProtocol, 'h2');
      const answer = await h2Request(session, { ':method': 'GET', ':path': '/v2/' });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers['docker-distribution-api-version'], 'registry/2.0');
    } finally {
      session.close();
    }
    const one = await h1({ method: 'GET', path: '/v2/' });
    assert.equal(one.status, 200);
    assert.equal(one.httpVersion, '1.1');
    await assert.rejects(h1({ method: 'GET', path: '/v2/' }, null), /self[- ]signed|unable to (verify|get local issuer)/i);
  });

  test('HTTP/2: a chunked upload streamed in two PATCHes, then pulled back; a refused request leaves the session usable', async () => {
    const session = await h2(ca);
    try {
      const blob = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      const started = await h2Request(session, { ':method': 'POST', ':path': `/v2/${repo}/h2/blobs/uploads/` });
      assert.equal(started.status, 202, started.body);
      let location = started.headers.location as string;
      for (const [from, to] of [[0, 1024 * 1024], [1024 * 1024, blob.length]] as const) {
        const patched = await h2Request(session, {
          ':method': 'PATCH', ':path': location, 'content-type': 'application/octet-stream', 'content-range': `${from}-${to - 1}`,
        }, blob.subarray(from, to), 64 * 1024);
        assert.equal(patched.status, 202, patched.body);
        assert.equal(patched.headers.range, `0-${to - 1}`);
        location = patched.headers.location as string;
      }
      const put = await h2Request(session, { ':method': 'PUT', ':path': `${location}${location.includes('?') ? '&' : '?'}digest=${digest}` });
      assert.equal(put.status, 201, put.body);
      const got = await h2Request(session, { ':method': 'GET', ':path': `/v2/${repo}/h2/blobs/${digest}` });
      assert.equal(got.status, 200);
      assert.equal(createHash('sha256').update(got.raw).digest('hex'), digest.slice(7));
      // A body the registry refuses before reading it: the stream's answer, and the session goes on.
      const refused = await h2Request(session, { ':method': 'PUT', ':path': `/v2/${repo}/h2/manifests/x`, 'content-type': ';;;' }, Buffer.alloc(256 * 1024));
      assert.equal(refused.status, 415);
      assert.equal(JSON.parse(refused.body).errors[0].code, 'UNSUPPORTED');
      assert.equal((await h2Request(session, { ':method': 'GET', ':path': '/v2/' })).status, 200);
    } finally {
      session.close();
    }
  });

  test('HTTP/1.1 over TLS: broken framing is still refused in the OCI error form (parser-errors.ts)', async () => {
    const raw = await rawTls('PATCH /v2/a/b/blobs/uploads/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /"code":"(SIZE_INVALID|UNSUPPORTED)"/);
    const overflow = await rawTls(`GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(overflow, /^HTTP\/1\.1 431 /);
    assert.match(overflow, /"code":"SIZE_INVALID"/);
  });

  test('skopeo pushes and pulls trusting the lab CA (--cert-dir)', SLOW, async () => {
    const certDir = join(dir, 'certs.d', host);
    mkdirSync(certDir, { recursive: true });
    copyFileSync(join(tlsDir, 'ca.crt'), join(certDir, 'ca.crt'));
    const skopeo = new Client('skopeo');
    await skopeo.ok(['copy', '--dest-cert-dir', certDir, `oci:${layout}:v1`, `docker://${host}/${repo}:v1`]);
    const info = JSON.parse((await skopeo.ok(['inspect', '--cert-dir', certDir, `docker://${host}/${repo}:v1`])).stdout) as { Digest: string };
    assert.equal(info.Digest, image.manifestDigest);
    await skopeo.ok(['copy', '--src-cert-dir', certDir, `docker://${host}/${repo}:v1`, `oci:${join(dir, 'back')}:v1`]);
    // Without the CA, verification fails: the test is not passing by accident over plain trust.
    await skopeo.fails(['inspect', `docker://${host}/${repo}:v1`], /certificate|x509|unknown authority/i);
  });

  test('podman pulls and pushes with a certs.d directory (--cert-dir)', SLOW, async () => {
    const podmanDir = join(dir, 'podman');
    const podman = new Client('podman', containersStorageArgs(podmanDir, join(dir, 'pr')));
    const certDir = join(dir, 'certs.d', host);
    await podman.ok(['pull', '--cert-dir', certDir, `${host}/${repo}:v1`]);
    await podman.ok(['tag', `${host}/${repo}:v1`, `${host}/${repo}:podman`]);
    await podman.ok(['push', '--cert-dir', certDir, `${host}/${repo}:podman`]);
    assert.equal((await h1({ method: 'HEAD', path: `/v2/${repo}/manifests/podman` })).status, 200);
    await podman.run(['rmi', '-a', '-f']);
  });

  test('ctr pulls and pushes with a hosts.toml naming the CA (--hosts-dir)', SLOW, async () => {
    const ctr = await startContainerd(ctx);
    const hostsDir = join(dir, 'hosts');
    mkdirSync(join(hostsDir, host), { recursive: true });
    writeFileSync(join(hostsDir, host, 'hosts.toml'),
      `server = "https://${host}"\n[host."https://${host}"]\n  capabilities = ["pull", "resolve", "push"]\n  ca = "${join(tlsDir, 'ca.crt')}"\n`);
    await ctr.ok(['images', 'pull', '--hosts-dir', hostsDir, `${host}/${repo}:v1`]);
    await ctr.ok(['images', 'tag', `${host}/${repo}:v1`, `${host}/${repo}:ctr`]);
    await ctr.ok(['images', 'push', '--hosts-dir', hostsDir, `${host}/${repo}:ctr`]);
    console.log(`TLS: HTTP versions by client: ${JSON.stringify(versionsByClient())}`);
    assert.equal((await h1({ method: 'HEAD', path: `/v2/${repo}/manifests/ctr` })).status, 200);
  });

  test('a renewed certificate is served without a restart; a bad pair is refused and the old one stays', SLOW, async () => {
    const before = await servedFingerprint();
    await selfSigned();
    const renewed = new (await import('node:crypto')).X509Certificate(readFileSync(join(tlsDir, 'server.crt'))).fingerprint256;
    assert.notEqual(renewed, before);
    await waitUntil(async () => (await servedFingerprint()) === renewed, 15_000, 'the renewed certificate was not served');
    assert.ok(cairn.logs.some((l) => l.includes('TLS certificate reloaded')));
    // The same CA signed it: clients that trust the CA carry on, and the process is the same.
    assert.equal((await h1({ method: 'GET', path: '/v2/' })).status, 200);
    // A key that is not the certificate's: refused, logged, and the renewed pair is still served.
    writeFileSync(join(tlsDir, 'server.key'), readFileSync(join(tlsDir, 'ca.key')));
    await waitUntil(() => cairn.logs.some((l) => l.includes('new TLS certificate refused')), 15_000, 'the bad pair was not reported');
    assert.equal(await servedFingerprint(), renewed);
    assert.equal((await h1({ method: 'GET', path: '/v2/' })).status, 200);
  });

  test('SIGTERM with an HTTP/2 session open: GOAWAY, and the server exits at once (not after the idle timeout)', async () => {
    const session = await h2(ca);
    assert.equal((await h2Request(session, { ':method': 'GET', ':path': '/v2/' })).status, 200);
    const away = new Promise((resolve) => session.once('goaway', resolve));
    const start = Date.now();
    await cairn.stop();
    await away;
    // stop() sends SIGKILL after 10 s; Fastify alone would wait for the session's 72 s timeout.
    assert.ok(Date.now() - start < 8_000, `took ${Date.now() - start} ms`);
    session.destroy();
  });

  // ---------------------------------------------------------------------------------------------- helpers

  /** From the request log lines: which HTTP versions each client (by user agent) negotiated. */
  function versionsByClient(): Record<string, string[]> {
    const seen: Record<string, Set<string>> = {};
    for (const line of cairn.logs) {
      if (!line.includes('"msg":"request"')) continue;
      const entry = JSON.parse(line) as { http?: string; ua?: string };
      const client = (entry.ua ?? 'none').split(/[ /]/)[0]!;
      (seen[client] ??= new Set()).add(entry.http ?? '?');
    }
    return Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, [...v].sort()]));
  }

  function port(): number {
    return Number(host.split(':')[1]);
  }

  function h2(trust: Buffer): Promise<ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const session = http2Connect(`https://localhost:${port()}`, { ca: trust, servername: 'localhost' });
      session.once('connect', () => resolve(session)).once('error', reject);
    });
  }

  function h2Request(session: ClientHttp2Session, headers: Record<string, string>, body?: Buffer, piece = body?.length ?? 0) {
    return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; raw: Buffer }>((resolve, reject) => {
      const stream = session.request(headers, { endStream: body === undefined });
      const chunks: Buffer[] = [];
      let head: Record<string, string | string[] | undefined> = {};
      stream.on('response', (h) => (head = h as typeof head));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: Number(head[':status']), headers: head, body: raw.toString('utf8'), raw });
      });
      stream.on('error', reject);
      if (body === undefined) return;
      // Written in pieces: the server streams what arrives rather than getting it in one frame.
      for (let at = 0; at < body.length; at += piece) stream.write(body.subarray(at, at + piece));
      stream.end();
    });
  }

  function h1(options: { method: string; path: string }, trust: Buffer | null = ca) {
    return new Promise<{ status: number; httpVersion: string }>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: port(), ...options, ...(trust ? { ca: trust } : {}), agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, httpVersion: res.httpVersion }));
      });
      req.on('error', reject).end();
    });
  }

  function rawTls(text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: port(), ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => socket.end(text));
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.on('error', (err) => (chunks.length > 0 ? resolve(Buffer.concat(chunks).toString('latin1')) : reject(err)));
    });
  }

  function servedFingerprint(): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: port(), ca, servername: 'localhost' }, () => {
        const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
        socket.end();
        resolve(fingerprint);
      });
      socket.on('error', reject);
    });
  }
});

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((r) => setTimeout(r, 200));
  }
}
