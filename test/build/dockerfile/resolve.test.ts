// The instruction semantics: what each step expands, ARG scoping, stage planning, mount defaults and
// the image config and history after each step, as BuildKit's Dockerfile frontend computes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DockerfileSyntaxError, DockerfileTargetError, DockerfileUnsupportedError, parse, planStages, resolveStage,
  type BuildOptions, type ImageConfigState, type Step,
} from '../../../src/build/dockerfile/index.js';

const EMPTY: ImageConfigState = { env: [], exposedPorts: [], volumes: [], labels: {} };
const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Resolves every needed stage, each on its base stage's final config (images: `base`). */
function build(text: string, options: Partial<BuildOptions> = {}, base: ImageConfigState = EMPTY): { steps: Map<number, Step[]>; target: Step[]; needed: readonly number[] } {
  const opts: BuildOptions = { buildArgs: {}, ...options };
  const ast = parse(text);
  const plan = planStages(ast, opts);
  const steps = new Map<number, Step[]>();
  for (const index of plan.needed) {
    const header = plan.stages[index]!;
    const parent = header.base.kind === 'stage' ? steps.get(header.base.index)! : undefined;
    const config = parent ? (parent.at(-1)?.config ?? base) : header.base.kind === 'scratch' ? EMPTY : base;
    steps.set(index, resolveStage(ast, plan, index, config, opts));
  }
  return { steps, target: steps.get(plan.target)!, needed: plan.needed };
}

function run(step: Step | undefined): Extract<Step, { kind: 'run' }> {
  assert.equal(step?.kind, 'run');
  return step as Extract<Step, { kind: 'run' }>;
}

function copy(step: Step | undefined): Extract<Step, { kind: 'copy' }> {
  assert.equal(step?.kind, 'copy');
  return step as Extract<Step, { kind: 'copy' }>;
}

function refused(text: string, kind: typeof DockerfileSyntaxError | typeof DockerfileUnsupportedError, line: number, message: RegExp, options: Partial<BuildOptions> = {}): void {
  assert.throws(() => build(text, options), (error: unknown) => {
    assert.ok(error instanceof kind, `${String(error)} is not a ${kind.name}`);
    assert.equal(error.line, line);
    assert.match(error.message, message);
    assert.match(error.message, new RegExp(`^Dockerfile line ${line}: `));
    return true;
  });
}

test('ARG scoping: meta ARGs reach FROM only, unless re-declared in the stage', () => {
  const text = 'ARG TAG=1.36\nARG OTHER=x\nFROM busybox:${TAG}\nRUN echo $TAG $OTHER\nARG TAG\nRUN echo $TAG\n';
  const { target } = build(text);
  assert.equal(build(text).needed.length, 1);
  const plan = planStages(parse(text), { buildArgs: {} });
  assert.deepEqual(plan.stages[0]!.base, { kind: 'image', reference: 'busybox:1.36' });
  // Before `ARG TAG` the stage does not see it (RUN is not expanded, its env lacks it)…
  assert.ok(!run(target[0]).env.some((e) => e.startsWith('TAG=') || e.startsWith('OTHER=')));
  assert.deepEqual(run(target[0]).args, {});
  // …after, it has the global value.
  assert.ok(run(target[2]).env.includes('TAG=1.36'));
  assert.deepEqual(run(target[2]).args, { TAG: '1.36' });
  assert.equal(target[1]!.createdBy, 'ARG TAG=1.36');
  assert.equal(run(target[2]).createdBy, 'RUN |1 TAG=1.36 /bin/sh -c echo $TAG # buildkit');
  // A build arg overrides the meta default, in FROM and in the stage.
  const overridden = build(text, { buildArgs: { TAG: '1.37' } });
  assert.ok(run(overridden.target[2]).env.includes('TAG=1.37'));
  assert.deepEqual(planStages(parse(text), { buildArgs: { TAG: '1.37' } }).stages[0]!.base, { kind: 'image', reference: 'busybox:1.37' });
});

test('ARG defaults: expanded with the environment so far, skipped when a build arg is given', () => {
  const text = 'FROM scratch\nENV BASE=/opt\nARG DIR=${BASE}/app\nARG MUST="${UNSET:?must be given}"\nWORKDIR $DIR\n';
  refused(text, DockerfileSyntaxError, 4, /UNSET: must be given/);
  const { target } = build(text, { buildArgs: { MUST: 'yes' } });
  assert.equal(target[3]!.kind, 'workdir');
  assert.equal(target[3]!.config.workingDir, '/opt/app');
  assert.deepEqual(target[3]!.args, { DIR: '/opt/app' });
  assert.equal(target[1]!.createdBy, 'ARG DIR=/opt/app');
  // Undeclared build args reach nothing.
  const plain = build('FROM scratch\nRUN echo $X\n', { buildArgs: { X: '1' } }).target;
  assert.ok(!run(plain[0]).env.some((e) => e.startsWith('X=')));
  assert.equal(run(plain[0]).createdBy, 'RUN /bin/sh -c echo $X # buildkit');
});

test('ENV and ARG of the same name: the later one is in effect (an ENV after the ARG wins, as the reference says)', () => {
  const argThenEnv = build('FROM scratch\nARG V=arg\nENV V=env\nRUN true\nLABEL v=$V\n', { buildArgs: { V: 'build-arg' } }).target;
  assert.ok(run(argThenEnv[2]).env.includes('V=env'));
  assert.equal(argThenEnv[3]!.config.labels.v, 'env');
  assert.ok(argThenEnv[3]!.config.env.includes('V=env'));
  // An ARG after the ENV sets the variable for RUN and expansion, but the image keeps the ENV.
  const envThenArg = build('FROM scratch\nENV V=env\nARG V\nRUN true\n', { buildArgs: { V: 'build-arg' } }).target;
  assert.ok(run(envThenArg[2]).env.includes('V=build-arg'));
  assert.ok(run(envThenArg[2]).config.env.includes('V=env'));
});

test('proxy build args reach RUN without ARG, but not its cache args or history', () => {
  const { target } = build('FROM scratch\nRUN curl x\n', { buildArgs: { HTTP_PROXY: 'http://proxy:3128', no_proxy: 'local' } });
  const step = run(target[0]);
  assert.deepEqual([...step.proxyEnv].sort(), ['HTTP_PROXY=http://proxy:3128', 'no_proxy=local']);
  assert.deepEqual(step.args, {});
  assert.equal(step.createdBy, 'RUN /bin/sh -c curl x # buildkit');
  const declared = run(build('FROM scratch\nARG HTTP_PROXY\nRUN curl x\n', { buildArgs: { HTTP_PROXY: 'p' } }).target[1]);
  assert.deepEqual(declared.proxyEnv, []);
  assert.deepEqual(declared.args, { HTTP_PROXY: 'p' });
});

test('ENV accumulates: a name set again keeps its place; one ENV sees the values from before it', () => {
  const { target } = build('FROM img\nENV A=1 B=2\nENV A=3 C=$A\nENV "D E"=" f "\n', {}, { ...EMPTY, env: ['A=0', 'PATH=/bin'] });
  assert.deepEqual(target[0]!.config.env, ['A=1', 'PATH=/bin', 'B=2']);
  assert.deepEqual(target[1]!.config.env, ['A=3', 'PATH=/bin', 'B=2', 'C=1']);
  assert.deepEqual(target[2]!.config.env.at(-1), 'D E= f ');
  assert.equal(target[1]!.createdBy, 'ENV A=3 C=1');
  assert.equal(target[1]!.emptyLayer, true);
  // The default PATH is added when the base has none.
  assert.deepEqual(build('FROM scratch\nENV X=1\n').target[0]!.config.env, [PATH, 'X=1']);
});

test('the config after each step: user, workdir, ports, volumes, labels, stop signal, shell, cmd, entrypoint, healthcheck', () => {
  const text = [
    'FROM scratch',
    'ENV P=8080 NAME=app',
    'USER 1000:1000',
    'WORKDIR /srv',
    'WORKDIR $NAME',
    'EXPOSE 443 ${P} 53/udp 7000-7001',
    'VOLUME /data ["/logs"]',
    'VOLUME ["/a", "/b"]',
    'LABEL org.opencontainers.image.title="$NAME" version=1',
    'STOPSIGNAL SIGQUIT',
    'CMD ["serve"]',
    'ENTRYPOINT ["/bin/app"]',
    'SHELL ["/bin/bash", "-eu", "-c"]',
    'CMD serve --port $P',
    'HEALTHCHECK --interval=5s --timeout=3s --start-period=1m30s --retries=3 CMD curl -f http://localhost/',
    'HEALTHCHECK NONE',
  ].join('\n');
  const steps = build(text.replace('VOLUME /data ["/logs"]', 'VOLUME /data /logs')).target;
  const at = (i: number) => steps[i]!.config;
  assert.equal(at(1).user, '1000:1000');
  assert.equal(steps[2]!.kind, 'workdir');
  assert.equal(at(3).workingDir, '/srv/app');
  assert.equal(steps[3]!.createdBy, 'WORKDIR /srv/app');
  // BuildKit sorts the words as written (`${P}` before `443`), then expands them.
  assert.deepEqual(at(4).exposedPorts, ['8080/tcp', '443/tcp', '53/udp', '7000/tcp', '7001/tcp']);
  assert.equal(steps[4]!.createdBy, 'EXPOSE [8080/tcp 443/tcp 53/udp 7000/tcp 7001/tcp]');
  assert.deepEqual(at(6).volumes, ['/data', '/logs', '/a', '/b']);
  assert.equal(steps[6]!.createdBy, 'VOLUME [/a /b]');
  assert.deepEqual(at(7).labels, { 'org.opencontainers.image.title': 'app', version: '1' });
  assert.equal(at(8).stopSignal, 'SIGQUIT');
  assert.deepEqual(at(9).cmd, ['serve']);
  assert.equal(at(9).argsEscaped, true);
  assert.equal(steps[9]!.createdBy, 'CMD ["serve"]');
  // This stage's CMD survives its ENTRYPOINT.
  assert.deepEqual(at(10).entrypoint, ['/bin/app']);
  assert.deepEqual(at(10).cmd, ['serve']);
  assert.deepEqual(at(11).shell, ['/bin/bash', '-eu', '-c']);
  assert.equal(steps[11]!.createdBy, 'SHELL [/bin/bash -eu -c]');
  // Shell form uses the current SHELL; CMD and ENTRYPOINT are never expanded by the frontend.
  assert.deepEqual(at(12).cmd, ['/bin/bash', '-eu', '-c', 'serve --port $P']);
  assert.equal(steps[12]!.createdBy, 'CMD ["/bin/bash" "-eu" "-c" "serve --port $P"]');
  assert.deepEqual(at(13).healthcheck, { test: ['CMD-SHELL', 'curl -f http://localhost/'], interval: 5e9, timeout: 3e9, startPeriod: 90e9, retries: 3 });
  assert.equal(steps[13]!.createdBy, 'HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/"] "5s" "3s" "1m30s" "0s" \'\\x03\'}');
  assert.deepEqual(at(14).healthcheck, { test: ['NONE'] });
  assert.ok(steps.filter((s) => s.kind === 'config').every((s) => s.emptyLayer));
  assert.equal(steps[2]!.emptyLayer, false);
  // Config steps never share arrays with the next step's config.
  assert.notEqual(at(5).volumes, at(6).volumes);
});

test('ENTRYPOINT drops a CMD inherited from the base image or a parent stage', () => {
  const base: ImageConfigState = { ...EMPTY, env: ['PATH=/bin'], cmd: ['sh'] };
  const steps = build('FROM img\nENTRYPOINT top -b\n', {}, base).target;
  assert.deepEqual(steps[0]!.config.entrypoint, ['/bin/sh', '-c', 'top -b']);
  assert.equal(steps[0]!.config.cmd, undefined);
  assert.equal(steps[0]!.createdBy, 'ENTRYPOINT ["/bin/sh" "-c" "top -b"]');
  const multi = build('FROM scratch AS a\nCMD ["x"]\nFROM a\nENTRYPOINT ["y"]\n').target;
  assert.equal(multi[0]!.config.cmd, undefined);
});

test('WORKDIR: relative to the previous one, `/` makes no layer, RUN and COPY resolve against it', () => {
  const steps = build('FROM scratch\nWORKDIR /\nWORKDIR a\nWORKDIR ../b/./c\nCOPY x .\nCOPY y z/\nCOPY w /abs\nRUN --mount=type=cache,target=cache true\n').target;
  assert.equal(steps[0]!.kind, 'config');
  assert.equal(steps[0]!.emptyLayer, true);
  assert.equal(steps[1]!.config.workingDir, '/a');
  assert.equal(steps[2]!.config.workingDir, '/b/c');
  assert.equal(copy(steps[3]).dest, '/b/c/');
  assert.equal(copy(steps[4]).dest, '/b/c/z/');
  assert.equal(copy(steps[5]).dest, '/abs');
  const mount = run(steps[6]).mounts[0]!;
  assert.equal(mount.type === 'cache' && `${mount.target} ${mount.id}`, '/b/c/cache cache');
});

test('RUN: shell form gets the shell, exec form is kept, nothing is expanded; network flag', () => {
  const steps = build('FROM scratch\nENV X=1\nRUN echo "$X" \\\n  && ls\nRUN ["echo", "$X"]\nRUN --network=none true\n').target;
  assert.deepEqual(run(steps[1]).argv, ['/bin/sh', '-c', 'echo "$X"   && ls']);
  assert.equal(run(steps[1]).display, 'RUN echo "1"   && ls');
  assert.deepEqual(run(steps[2]).argv, ['echo', '$X']);
  assert.equal(run(steps[1]).network, 'default');
  assert.equal(run(steps[3]).network, 'none');
  assert.deepEqual(run(steps[3]).env, [PATH, 'X=1']);
  refused('FROM scratch\nRUN --network=host true\n', DockerfileUnsupportedError, 2, /network=host/);
  refused('FROM scratch\nRUN --network=bridge true\n', DockerfileSyntaxError, 2, /unsupported network mode/);
  refused('FROM scratch\nRUN --security=insecure true\n', DockerfileUnsupportedError, 2, /insecure/);
});

test('RUN heredocs: one heredoc is the script, a #! one is a file run from /dev/pipes, several go to the shell', () => {
  const script = build('FROM scratch\nRUN <<EOF\necho a\necho b\nEOF\n').target;
  assert.deepEqual(run(script[0]).argv, ['/bin/sh', '-c', 'echo a\necho b\n']);
  assert.deepEqual(run(script[0]).heredocs, []);
  assert.equal(run(script[0]).display, 'RUN <<EOF (echo a...)');
  const shebang = build('FROM scratch\nRUN <<-"PY"\n\t#!/usr/bin/env python3\n\tprint(1)\n\tPY\n').target;
  assert.deepEqual(run(shebang[0]).argv, ['/bin/sh', '-c', '/dev/pipes/PY']);
  assert.deepEqual(run(shebang[0]).heredocs, [{ name: 'PY', chomp: true, quoted: true, content: '#!/usr/bin/env python3\nprint(1)\n' }]);
  const several = build('FROM scratch\nRUN cat <<A <<B > out\none\nA\ntwo\nB\nRUN echo done\n').target;
  assert.deepEqual(run(several[0]).argv, ['/bin/sh', '-c', 'cat <<A <<B > out\none\nA\ntwo\nB']);
  assert.deepEqual(run(several[1]).argv, ['/bin/sh', '-c', 'echo done']);
  assert.equal(several[0]!.location.line, 2);
  assert.equal(several[0]!.location.endLine, 6);
  assert.throws(() => parse('FROM scratch\nRUN <<EOF\necho\n'), (e: unknown) => e instanceof DockerfileSyntaxError && /unterminated heredoc/.test(e.message));
});

test('COPY/ADD: sources and destination expanded, flags read, heredoc files, history text', () => {
  const steps = build([
    'FROM scratch AS src',
    'FROM scratch',
    'ARG OWNER=1000',
    'ENV DIR=/app',
    'COPY --from=src --chown=${OWNER}:0 --chmod=0755 --link --exclude=*.md --exclude=tmp a* $DIR/',
    'ADD --chmod=u+x archive.tar.gz /opt/',
    'COPY --parents ./x/./y /p/',
    'COPY <<EOF <<"RAW" /etc/',
    '$DIR \\$DIR "q"',
    'EOF',
    '$DIR',
    'RAW',
  ].join('\n'), { target: '' }).target;
  const c = copy(steps[2]);
  assert.deepEqual(c.from, { kind: 'stage', index: 0 });
  assert.deepEqual(c.sources, ['a*']);
  assert.equal(c.dest, '/app/');
  assert.equal(c.chown, '1000:0');
  assert.equal(c.chmod, '0755');
  assert.equal(c.link, true);
  assert.deepEqual(c.exclude, ['*.md', 'tmp']);
  assert.deepEqual(c.args, { OWNER: '1000' });
  assert.equal(c.createdBy, 'COPY --chown=1000:0 --chmod=0755 a* /app/ # buildkit');
  assert.equal(c.display, 'COPY --from=src --chown=1000:0 --chmod=0755 --link --exclude=*.md --exclude=tmp a* /app/');
  const a = copy(steps[3]);
  assert.equal(a.add, true);
  assert.equal(a.chmod, 'u+x');
  assert.equal(copy(steps[4]).parents, true);
  assert.equal(copy(steps[4]).createdBy, 'COPY --parents ./x/./y /p/ # buildkit');
  const h = copy(steps[5]);
  assert.deepEqual(h.sources, []);
  assert.deepEqual(h.heredocs.map((d) => [d.name, d.content]), [['EOF', '/app $DIR "q"\n'], ['RAW', '$DIR\n']]);
  assert.equal(h.createdBy, 'COPY <<EOF <<RAW /etc/ # buildkit');
  refused('FROM scratch\nCOPY --chmod=999 a b\n', DockerfileSyntaxError, 2, /invalid chmod parameter/);
  refused('FROM scratch\nCOPY a\n', DockerfileSyntaxError, 2, /at least two arguments/);
  refused('FROM scratch\nCOPY a <<EOF\nx\nEOF\n', DockerfileSyntaxError, 2, /heredoc as a destination/);
});

test('stage planning: names in any case, --target, FROM/COPY --from/RUN --mount from= dependencies in order', () => {
  const text = [
    'ARG BASE=scratch',
    'FROM ${BASE} AS Tools',
    'FROM busybox AS unused',
    'FROM scratch AS deps',
    'FROM tools AS build',
    'COPY --from=DEPS / /deps',
    'RUN --mount=type=bind,from=0,target=/t true',
    'FROM scratch AS other',
    'COPY --from=1 / /',
    'FROM scratch',
    'COPY --from=build /out /',
    'COPY --from=docker.io/library/alpine:3 /etc/os-release /',
  ].join('\n');
  const plan = planStages(parse(text), { buildArgs: {} });
  assert.equal(plan.stages.length, 6);
  assert.deepEqual(plan.stages.map((s) => s.name), ['tools', 'unused', 'deps', 'build', 'other', undefined]);
  assert.deepEqual(plan.stages[0]!.base, { kind: 'scratch' });
  assert.deepEqual(plan.stages[3]!.base, { kind: 'stage', index: 0 });
  assert.deepEqual(plan.needed, [0, 2, 3, 5]);
  assert.equal(plan.target, 5);
  const other = planStages(parse(text), { buildArgs: {}, target: 'OTHER' });
  assert.deepEqual(other.needed, [1, 4]);
  assert.equal(other.target, 4);
  assert.deepEqual(planStages(parse(text), { buildArgs: {}, target: 'Build' }).needed, [0, 2, 3]);
  const last = build(text).target;
  assert.deepEqual(copy(last[1]).from, { kind: 'image', reference: 'docker.io/library/alpine:3' });
  assert.deepEqual(run(build(text, { target: 'build' }).target[1]).mounts[0], { type: 'bind', target: '/t', source: '/', from: { kind: 'stage', index: 0 }, readwrite: false });
  assert.throws(() => planStages(parse(text), { buildArgs: {}, target: 'nope' }), (e: unknown) => e instanceof DockerfileTargetError && /target stage "nope" could not be found/.test(e.message));
  refused('FROM scratch AS a\nCOPY --from=b / /\nFROM scratch AS b\n', DockerfileSyntaxError, 2, /needs to be defined before current stage "a"/);
  refused('FROM scratch\nARG S=x\nCOPY --from=$S / /\n', DockerfileSyntaxError, 3, /variable expansion is not supported for --from/);
  refused('ENV X=1\nFROM scratch\n', DockerfileSyntaxError, 1, /no build stage in current context/);
  refused('ARG X=1\n', DockerfileSyntaxError, 1, /no stages to build/);
  refused('FROM a b\n', DockerfileSyntaxError, 1, /one or three arguments/);
  refused('FROM a AS 1x\n', DockerfileSyntaxError, 1, /invalid name for build stage/);
});

test('RUN --mount: every type with BuildKit defaults, values expanded, errors named', () => {
  const steps = build([
    'FROM scratch AS cache-seed',
    'FROM scratch',
    'ARG ID=npm',
    'WORKDIR /w',
    'RUN --mount=type=cache,target=/root/.npm/ \\',
    '    --mount=type=cache,id=$ID,target=node_modules,sharing=locked,from=cache-seed,source=/seed,mode=0700,uid=1000,gid=1000,ro \\',
    '    --mount=target=/src \\',
    '    --mount=type=bind,source=dist,target=/d,rw \\',
    '    --mount=type=tmpfs,target=/tmp,size=64m \\',
    '    --mount=type=secret,id=token \\',
    '    --mount=type=secret,source=npmrc,target=/root/.npmrc,required,mode=0440 \\',
    '    --mount=type=secret,id=aws,env=AWS_KEY \\',
    '    --mount="type=cache,target=/a,b" true',
  ].join('\n').replace(',target=/a,b"', ',target=/a"')).target;
  const mounts = run(steps[2]).mounts;
  assert.deepEqual(mounts, [
    { type: 'cache', target: '/root/.npm', id: '/root/.npm', sharing: 'shared', readonly: false, mode: 0o755, uid: 0, gid: 0 },
    { type: 'cache', target: '/w/node_modules', id: 'npm', sharing: 'locked', readonly: true, from: { kind: 'stage', index: 0 }, source: '/seed', mode: 0o700, uid: 1000, gid: 1000 },
    { type: 'bind', target: '/src', source: '/', readwrite: false },
    { type: 'bind', target: '/d', source: 'dist', readwrite: true },
    { type: 'tmpfs', target: '/tmp', size: 64 * 1024 * 1024 },
    { type: 'secret', id: 'token', target: '/run/secrets/token', required: false, mode: 0o400, uid: 0, gid: 0 },
    { type: 'secret', id: 'npmrc', target: '/root/.npmrc', required: true, mode: 0o440, uid: 0, gid: 0 },
    { type: 'secret', id: 'aws', env: 'AWS_KEY', required: false, mode: 0o400, uid: 0, gid: 0 },
    { type: 'cache', target: '/a', id: '/a', sharing: 'shared', readonly: false, mode: 0o755, uid: 0, gid: 0 },
  ]);
  assert.deepEqual(run(steps[2]).args, { ID: 'npm' });
  refused('FROM scratch\nRUN --mount=type=ssh true\n', DockerfileUnsupportedError, 2, /ssh/);
  refused('FROM scratch\nRUN --mount=type=nfs,target=/x true\n', DockerfileSyntaxError, 2, /unsupported mount type "nfs"/);
  refused('FROM scratch\nRUN --mount=type=cache,target=/x,sharing=everyone true\n', DockerfileSyntaxError, 2, /unsupported sharing value/);
  refused('FROM scratch\nRUN --mount=type=bind,target=/x,mode=0700 true\n', DockerfileSyntaxError, 2, /mode not allowed for "bind"/);
  refused('FROM scratch\nRUN --mount=type=tmpfs,target=/x,colour=red true\n', DockerfileSyntaxError, 2, /unexpected key 'colour'/);
  refused('FROM scratch\nRUN --mount=type=cache,target=/ true\n', DockerfileSyntaxError, 2, /invalid mount target/);
  refused('FROM scratch\nRUN --mount=type=secret true\n', DockerfileSyntaxError, 2, /one of source, target required/);
});

test('refusals name the line: ONBUILD, ADD from a URL or git, unknown instructions and flags (in any stage)', () => {
  refused('FROM scratch\n\nONBUILD RUN echo hi\n', DockerfileUnsupportedError, 3, /ONBUILD/);
  refused('FROM scratch\nADD https://example.com/a.tgz /\n', DockerfileUnsupportedError, 2, /URL or git/);
  refused('FROM scratch\nADD git@github.com:moby/buildkit.git /src\n', DockerfileUnsupportedError, 2, /URL or git/);
  refused('FROM scratch\nADD --checksum=sha256:00 a /\n', DockerfileUnsupportedError, 2, /--checksum/);
  refused('FROM scratch\nCOPY https://example.com/a /\n', DockerfileSyntaxError, 2, /URL for COPY/);
  refused('FROM scratch\nRUNN echo\n', DockerfileSyntaxError, 2, /unknown instruction: RUNN \(did you mean RUN\?\)/);
  refused('FROM scratch AS unused\nCOPY --chwon=1 a b\nFROM scratch\n', DockerfileSyntaxError, 2, /unknown flag: chwon \(did you mean --chown\?\)/);
  refused('FROM scratch\nCOPY --link --link a b\n', DockerfileSyntaxError, 2, /duplicate flag/);
  refused('FROM scratch\nENV X=1\nRUN \\\n  --mount=type=cache,target=/x,foo=1 true\n', DockerfileSyntaxError, 3, /unexpected key 'foo'/);
  refused('FROM scratch\nSTOPSIGNAL SIGNOPE\n', DockerfileSyntaxError, 2, /invalid signal/);
  refused('FROM scratch\nSHELL /bin/bash -c\n', DockerfileSyntaxError, 2, /JSON form/);
  refused('FROM scratch\nHEALTHCHECK --interval=1us CMD true\n', DockerfileSyntaxError, 2, /cannot be less than 1ms/);
  refused('FROM scratch\nHEALTHCHECK CONNECT TCP 7000\n', DockerfileSyntaxError, 2, /Unknown type "CONNECT"/);
  refused('FROM scratch\nEXPOSE 80/icmp\n', DockerfileSyntaxError, 2, /invalid proto/);
  refused('FROM scratch\nLABEL a="b\n', DockerfileSyntaxError, 2, /unexpected end of statement/);
  refused('FROM scratch\nENV A=${B\n', DockerfileSyntaxError, 2, /missing '}'/);
  refused('# escape=x\nFROM scratch\n', DockerfileSyntaxError, 1, /invalid escape token/);
  refused('# escape=`\n# escape=\\\nFROM scratch\n', DockerfileSyntaxError, 2, /only one escape parser directive/);
  // A base image with ONBUILD triggers is refused at its FROM line.
  assert.throws(() => build('FROM scratch\n\nFROM img\nRUN true\n', {}, { ...EMPTY, onBuild: ['RUN make'] }), (e: unknown) => e instanceof DockerfileUnsupportedError && e.line === 3);
});

test('directives: syntax and check are recorded, escape changes continuation and escaping', () => {
  const ast = parse('# syntax=docker/dockerfile:1\n# check=skip=all\n# escape=`\nFROM scratch\nRUN echo a `\n  b\nENV P=C:\\dir\n');
  assert.deepEqual(ast.directives, { syntax: 'docker/dockerfile:1', check: 'skip=all', escape: '`' });
  const steps = build('# escape=`\nFROM scratch\nRUN echo a `\n  b\nENV P=C:\\dir Q=`$P\n').target;
  assert.deepEqual(run(steps[0]).argv, ['/bin/sh', '-c', 'echo a   b']);
  assert.ok(steps[1]!.config.env.includes('P=C:\\dir'));
  assert.ok(steps[1]!.config.env.includes('Q=$P'));
  // After the first instruction a directive is only a comment.
  assert.equal(parse('FROM scratch\n# escape=`\nRUN a \\\n b\n').directives.escape, '\\');
});

test('a 10,000-line Dockerfile parses and resolves in linear time', (t) => {
  const lines = ['FROM scratch', 'ARG V=1'];
  for (let i = 0; lines.length < 10_000; i++) {
    lines.push(i % 3 === 0 ? `RUN echo ${i} \\` : i % 3 === 1 ? `  && echo $V${i}` : `ENV K${i % 50}=v${i}`);
  }
  const text = `${lines.join('\n')}\n`;
  const started = process.hrtime.bigint();
  const ast = parse(text);
  const parsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  const plan = planStages(ast, { buildArgs: {} });
  const steps = resolveStage(ast, plan, 0, EMPTY, { buildArgs: {} });
  const totalMs = Number(process.hrtime.bigint() - started) / 1e6;
  t.diagnostic(`10,000 lines: parse ${parsedMs.toFixed(1)} ms, parse+plan+resolve ${totalMs.toFixed(1)} ms`);
  assert.equal(ast.instructions.length, 1 + 1 + Math.ceil((10_000 - 2) / 3) * 2 - 1);
  assert.equal(steps.length, ast.instructions.length - 1);
  assert.equal(ast.instructions.at(-1)!.location.endLine, 10_000);
});
