/**
 * One stage's instructions as the engine runs them: words expanded with the ARG and ENV values in
 * effect, flags read, and the image config (and history entry) after each step, as BuildKit's
 * dockerfile2llb computes them.
 *
 * - Expansion: ENV, ARG defaults, LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL, COPY/ADD sources,
 *   destination, `--chown`, `--chmod` and heredoc bodies, RUN `--mount` values. Not RUN's command,
 *   CMD, ENTRYPOINT, SHELL, HEALTHCHECK (the shell does that at run time).
 * - The environment is sequential: the base image's Env, then ENV and valued ARGs in file order, a
 *   later one replacing an earlier one of the same name (so an ENV after an ARG wins).
 * - ARG: a `--build-arg` wins over the default (which is then not evaluated); a bare `ARG name`
 *   takes the meta ARG's value; meta ARGs are otherwise invisible in a stage.
 * - Proxy build args reach RUN's process without a declaration, but no cache key or history.
 */
import { posix } from 'node:path';
import { DockerfileSyntaxError, DockerfileUnsupportedError, ShellExpansionError } from './errors.js';
import type { Command } from './instructions.js';
import type { Ast, BuildOptions, Heredoc, ImageConfigState, RunMount, Step, StagePlan } from './model.js';
import { MountError, MountUnsupportedError, parseMount } from './mounts.js';
import { processWord, type LexOptions } from './shell.js';
import { parseFile, resolveFrom, type Stage } from './stages.js';
import { goList, goQuoteList, healthcheckHistory, isValidChmod, isValidSignal, parsePortSpec } from './values.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];
const PROXY_ARGS = new Set(['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY'].flatMap((n) => [n, n.toLowerCase()]));

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Sets `key=value` in a `KEY=value` list, in place if the key is there (its position kept). */
function setEnv(env: string[], key: string, value: string): void {
  const i = env.findIndex((e) => e === key || e.startsWith(`${key}=`));
  if (i >= 0) env[i] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
}

/** The environment a stage's steps see: `KEY=value` entries in order, and a map to look names up. */
class Environment {
  readonly entries: string[];
  private readonly values: Map<string, string>;

  constructor(entries: readonly string[]) {
    this.entries = [...entries];
    this.values = new Map();
    for (const entry of entries) {
      const eq = entry.indexOf('=');
      this.values.set(eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? '' : entry.slice(eq + 1));
    }
  }

  set(key: string, value: string): void {
    setEnv(this.entries, key, value);
    this.values.set(key, value);
  }

  readonly get = (name: string): string | undefined => this.values.get(name);
}

class LineError extends Error {}
class UnsupportedError extends Error {}

class StageResolver {
  private readonly config: Mutable<ImageConfigState>;
  private readonly env: Environment;
  /** ARGs declared in this stage, in order, with their values. */
  private readonly declared: Array<{ key: string; value?: string }> = [];
  private cmdSet = false;
  private used = new Set<string>();

  constructor(
    private readonly stages: readonly Stage[],
    private readonly stage: Stage,
    private readonly escape: string,
    private readonly options: BuildOptions,
    private readonly globalArgs: ReadonlyMap<string, string>,
    base: ImageConfigState,
  ) {
    this.config = {
      ...base,
      env: [...base.env],
      exposedPorts: [...base.exposedPorts],
      volumes: [...base.volumes],
      labels: { ...base.labels },
    };
    if (!this.config.env.some((e) => e.startsWith('PATH='))) (this.config.env as string[]).push(DEFAULT_PATH);
    this.env = new Environment(this.config.env);
  }

  resolve(): Step[] {
    const steps: Step[] = [];
    for (const command of this.stage.commands) {
      const { line, endLine } = command.location;
      try {
        this.used = new Set();
        const step = this.step(command);
        if (step) steps.push(step);
      } catch (error) {
        if (error instanceof ShellExpansionError || error instanceof LineError || error instanceof MountError) {
          throw new DockerfileSyntaxError(error.message, line, endLine);
        }
        if (error instanceof UnsupportedError || error instanceof MountUnsupportedError) throw new DockerfileUnsupportedError(error.message, line, endLine);
        throw error;
      }
    }
    return steps;
  }


  /** Expands one word against the current environment, noting the build args it used. */
  private expand(word: string, options: LexOptions = {}): string {
    return this.expandWords(word, options).result;
  }

  private expandWords(word: string, options: LexOptions = {}): { result: string; words: string[] } {
    const expansion = processWord(word, this.env.get, this.escape, options);
    for (const name of expansion.matched) if (this.declared.some((a) => a.key === name)) this.used.add(name);
    return expansion;
  }

  private snapshot(): ImageConfigState {
    return {
      ...this.config,
      env: [...this.config.env],
      exposedPorts: [...this.config.exposedPorts],
      volumes: [...this.config.volumes],
      labels: { ...this.config.labels },
    };
  }

  /** Build args this step uses (cache keys): the declared ARGs it expanded, or all valued ones for RUN. */
  private argsInUse(all: boolean): Record<string, string> {
    const args: Record<string, string> = {};
    for (const { key } of this.declared) {
      const value = this.env.get(key);
      if ((all || this.used.has(key)) && value !== undefined) args[key] = value;
    }
    return args;
  }

  /** BuildKit's progress name: the instruction as written, variables expanded, keyword upper-cased. */
  private display(command: Command): string {
    const original = command.instruction.original.trim();
    let text = original;
    try {
      text = processWord(original, this.env.get, this.escape, { skipProcessQuotes: true }).result;
    } catch {
      // Shown as written when it does not expand.
    }
    const space = text.indexOf(' ');
    return space < 0 ? text.toUpperCase() : `${text.slice(0, space).toUpperCase()}${text.slice(space)}`;
  }

  private configStep(command: Command, createdBy: string, display = this.display(command)): Step {
    return {
      kind: 'config',
      instruction: command.kind,
      display,
      location: command.location,
      args: this.argsInUse(false),
      config: this.snapshot(),
      createdBy,
      emptyLayer: true,
    };
  }

  private withShell(args: readonly string[]): string[] {
    const shell = this.config.shell && this.config.shell.length > 0 ? this.config.shell : DEFAULT_SHELL;
    return [...shell, args.join(' ')];
  }

  private step(command: Command): Step | undefined {
    const display = this.display(command);
    switch (command.kind) {
      case 'from':
        return undefined;
      case 'arg':
        return this.arg(command, display);
      case 'env': {
        const pairs = command.pairs.map(({ key, value }) => ({ key: this.expand(key), value: this.expand(value) }));
        for (const { key, value } of pairs) {
          if (key === '') throw new LineError('ENV names can not be blank');
          this.env.set(key, value);
          setEnv(this.config.env as string[], key, value);
        }
        return this.configStep(command, `ENV ${pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`, display);
      }
      case 'label': {
        const pairs = command.pairs.map(({ key, value }) => ({ key: this.expand(key), value: this.expand(value) }));
        for (const { key, value } of pairs) (this.config.labels as Record<string, string>)[key] = value;
        return this.configStep(command, `LABEL ${pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`, display);
      }
      case 'maintainer':
        this.config.author = command.value;
        return this.configStep(command, `MAINTAINER ${command.value}`, display);
      case 'user': {
        const user = this.expand(command.value);
        this.config.user = user;
        return this.configStep(command, `USER ${user}`, display);
      }
      case 'workdir':
        return this.workdir(command, display);
      case 'expose': {
        const ports: string[] = [];
        for (const word of command.values) {
          for (const spec of this.expandWords(word).words) {
            try {
              ports.push(...parsePortSpec(spec));
            } catch (error) {
              throw new LineError((error as Error).message);
            }
          }
        }
        for (const port of ports) if (!this.config.exposedPorts.includes(port)) (this.config.exposedPorts as string[]).push(port);
        return this.configStep(command, `EXPOSE ${goList(ports)}`, display);
      }
      case 'volume': {
        const volumes = command.values.map((v) => this.expand(v));
        for (const volume of volumes) {
          if (volume === '') throw new LineError('VOLUME specified can not be an empty string');
          if (!this.config.volumes.includes(volume)) (this.config.volumes as string[]).push(volume);
        }
        return this.configStep(command, `VOLUME ${goList(volumes)}`, display);
      }
      case 'stopsignal': {
        const signal = this.expand(command.value);
        if (!isValidSignal(signal)) throw new LineError(`invalid signal: ${signal}`);
        this.config.stopSignal = signal;
        return this.configStep(command, `STOPSIGNAL ${signal}`, display);
      }
      case 'shell':
        this.config.shell = [...command.args];
        return this.configStep(command, `SHELL ${goList(command.args)}`, display);
      case 'cmd': {
        const args = command.json ? [...command.args] : this.withShell(command.args);
        this.config.cmd = args;
        this.config.argsEscaped = true;
        this.cmdSet = true;
        return this.configStep(command, `CMD ${goQuoteList(args)}`, display);
      }
      case 'entrypoint': {
        const args = command.json ? [...command.args] : this.withShell(command.args);
        if (command.json && args.length === 0) delete this.config.entrypoint;
        else this.config.entrypoint = args;
        // An ENTRYPOINT drops a CMD inherited from the base: only this stage's CMD survives it.
        if (!this.cmdSet) delete this.config.cmd;
        return this.configStep(command, `ENTRYPOINT ${goQuoteList(args)}`, display);
      }
      case 'healthcheck': {
        const h = command.health;
        this.config.healthcheck = {
          test: [...h.test],
          ...(h.interval ? { interval: h.interval } : {}),
          ...(h.timeout ? { timeout: h.timeout } : {}),
          ...(h.startPeriod ? { startPeriod: h.startPeriod } : {}),
          ...(h.startInterval ? { startInterval: h.startInterval } : {}),
          ...(h.retries ? { retries: h.retries } : {}),
        };
        return this.configStep(command, healthcheckHistory(h), display);
      }
      case 'onbuild':
        throw new UnsupportedError('ONBUILD is not supported: Cairn does not record or run build triggers');
      case 'run':
        return this.run(command, display);
      case 'copy':
      case 'add':
        return this.copy(command, display);
    }
  }

  private arg(command: Extract<Command, { kind: 'arg' }>, display: string): Step {
    const committed: string[] = [];
    for (const definition of command.args) {
      const given = Object.hasOwn(this.options.buildArgs, definition.key) ? this.options.buildArgs[definition.key] : undefined;
      let value: string | undefined;
      if (given !== undefined) value = given;
      else if (definition.value !== undefined) value = this.expand(definition.value);
      else value = this.globalArgs.get(definition.key);
      const existing = this.declared.findIndex((a) => a.key === definition.key);
      const entry = value === undefined ? { key: definition.key } : { key: definition.key, value };
      if (existing >= 0) this.declared[existing] = entry;
      else this.declared.push(entry);
      if (value !== undefined) {
        this.env.set(definition.key, value);
        this.used.add(definition.key);
      }
      committed.push(value === undefined ? definition.key : `${definition.key}=${value}`);
    }
    return this.configStep(command, `ARG ${committed.join(' ')}`, display);
  }

  /** A path joined to the working directory; a trailing `/` (and `.`) kept as BuildKit keeps it. */
  private relativeToWorkdir(p: string): string {
    const dir = this.config.workingDir || '/';
    const target = p === '' || p === '.' ? './' : p;
    const joined = posix.isAbsolute(target) ? posix.normalize(target) : posix.join(dir, target);
    const keepSlash = target.endsWith('/') || target.endsWith('/.');
    const clean = joined.length > 1 ? joined.replace(/\/+$/, '') : joined;
    return keepSlash && clean !== '/' ? `${clean}/` : clean;
  }

  private workdir(command: Extract<Command, { kind: 'maintainer' | 'workdir' | 'user' | 'stopsignal' }>, display: string): Step {
    const value = this.expand(command.value);
    const dir = posix.isAbsolute(value) ? value : posix.join(this.config.workingDir || '/', value);
    this.config.workingDir = dir;
    const createdBy = `WORKDIR ${dir}`;
    if (dir === '/') return this.configStep(command, createdBy, display);
    return { kind: 'workdir', path: dir, display, location: command.location, args: this.argsInUse(false), config: this.snapshot(), createdBy, emptyLayer: false };
  }

  private run(command: Extract<Command, { kind: 'run' }>, display: string): Step {
    if (command.devices.length > 0) throw new UnsupportedError('RUN --device is not supported');
    const security = command.security ?? 'sandbox';
    if (security === 'insecure') throw new UnsupportedError('RUN --security=insecure is not supported: build steps always run sandboxed');
    if (security !== 'sandbox') throw new LineError(`unsupported security mode "${security}"`);
    const network = command.network ?? 'default';
    if (network === 'host') throw new UnsupportedError('RUN --network=host is not supported: build steps never share the host network');
    if (network !== 'default' && network !== 'none') throw new LineError(`unsupported network mode "${network}"`);

    const { line, endLine } = command.location;
    const mounts: RunMount[] = command.mounts.map((spec) =>
      parseMount(spec, {
        expand: (v) => this.expand(v),
        from: (name) => resolveFrom(this.stages, name, this.stage.header.index, line, endLine),
        workdir: this.config.workingDir || '/',
      }),
    );

    let args = [...command.args];
    let heredocs: Heredoc[] = [];
    let shown = display;
    if (command.heredocs.length > 0) {
      const only = command.heredocs.length === 1 ? command.heredocs[0]! : undefined;
      const whole = only && /^\d*<<-?/.test(args[0]!.trim()) && args[0]!.trim().split(/\s+/).length === 1;
      if (only && whole) {
        const content = only.chomp ? only.content.replace(/^\t+/gm, '') : only.content;
        if (content.startsWith('#!')) {
          heredocs = [{ ...only, content }];
          args = [posix.join('/dev/pipes', only.name)];
        } else {
          args = [content];
        }
        shown += ` (${summarizeHeredoc(content)})`;
      } else {
        // The shell reads the heredocs itself: the line, then each body and its terminator.
        args = [command.heredocs.reduce((full, doc) => `${full}\n${doc.content}${doc.name}`, args[0]!)];
      }
    }
    const argv = command.json ? args : this.withShell(args);
    const proxyEnv = Object.entries(this.options.buildArgs)
      .filter(([key]) => PROXY_ARGS.has(key) && !this.declared.some((a) => a.key === key))
      .map(([key, value]) => `${key}=${value}`);
    return {
      kind: 'run',
      argv,
      env: [...this.env.entries],
      proxyEnv,
      mounts,
      network,
      heredocs,
      display: shown,
      location: command.location,
      args: this.argsInUse(true),
      config: this.snapshot(),
      createdBy: `RUN ${this.runCommandString(argv)} # buildkit`,
      emptyLayer: false,
    };
  }

  /** RUN's history text: `|N k=v …` for the stage's declared ARGs, then the argv. */
  private runCommandString(argv: readonly string[]): string {
    const args = this.declared.map(({ key, value }) => `${key}=${this.env.get(key) ?? value ?? ''}`);
    return [...(args.length > 0 ? [`|${args.length}`, ...args] : []), ...argv].join(' ');
  }

  private copy(command: Extract<Command, { kind: 'copy' | 'add' }>, display: string): Step {
    const add = command.kind === 'add';
    const name = add ? 'ADD' : 'COPY';
    const { flags } = command;
    const { line, endLine } = command.location;
    if (add) {
      for (const flag of ['checksum', 'keep-git-dir', 'unpack']) {
        if (flags.used.has(flag)) throw new UnsupportedError(`ADD --${flag} is not supported`);
      }
    }
    const sources = command.sources.map((s) => this.expand(s));
    for (const source of sources) {
      if (isRemote(source)) {
        if (!add) throw new LineError(`source can't be a URL for COPY`);
        throw new UnsupportedError(`ADD from a URL or git repository is not supported (${source}): add the file to the build context`);
      }
    }
    const contents = command.contents.map((doc) => {
      const chomped = doc.chomp ? doc.content.replace(/^\t+/gm, '') : doc.content;
      return { ...doc, content: doc.quoted ? chomped : this.expand(chomped, { skipProcessQuotes: true }) };
    });
    const destWritten = this.expand(command.dest);
    const dest = this.relativeToWorkdir(destWritten);
    const chown = flags.string('chown') === undefined ? undefined : this.expand(flags.string('chown')!);
    const chmod = flags.string('chmod') === undefined ? undefined : this.expand(flags.string('chmod')!);
    if (chmod !== undefined && chmod !== '' && !isValidChmod(chmod)) {
      throw new LineError(`invalid chmod parameter: '${chmod}'. it should be octal string and between 0 and 07777`);
    }
    const fromName = flags.string('from');
    const from = fromName === undefined || fromName === '' ? undefined : resolveFrom(this.stages, fromName, this.stage.header.index, line, endLine);
    const parents = flags.bool('parents');
    let createdBy = name;
    if (parents) createdBy += ' --parents';
    if (chown) createdBy += ` --chown=${chown}`;
    if (chmod) createdBy += ` --chmod=${chmod}`;
    createdBy += [...sources, ...contents.map((c) => `<<${c.name}`), destWritten].map((w) => ` ${w}`).join('');
    return {
      kind: 'copy',
      add,
      sources,
      dest,
      ...(from ? { from } : {}),
      ...(chown ? { chown } : {}),
      ...(chmod ? { chmod } : {}),
      link: flags.bool('link'),
      parents,
      exclude: flags.strings('exclude'),
      heredocs: contents,
      display,
      location: command.location,
      args: this.argsInUse(false),
      config: this.snapshot(),
      createdBy: `${createdBy} # buildkit`,
      emptyLayer: false,
    };
  }
}

/** HTTP(S) URLs and git references, which ADD would fetch. */
function isRemote(source: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source) || /^git@[^:]+:/.test(source);
}

function summarizeHeredoc(doc: string): string {
  const lines = doc.trim().replace(/\r\n/g, '\n').split('\n');
  return lines.length > 1 ? `${lines[0]}...` : lines[0]!;
}

/**
 * The steps of stage `index`, given its base's config (the image's, a previous stage's result, or
 * an empty one for scratch). Throws DockerfileSyntaxError or DockerfileUnsupportedError naming the
 * line.
 */
export function resolveStage(ast: Ast, plan: StagePlan, index: number, base: ImageConfigState, options: BuildOptions): Step[] {
  const parsed = parseFile(ast, options);
  const stage = parsed.stages[index];
  if (!stage || plan.stages.length !== parsed.stages.length) throw new RangeError(`stage ${index} is not in this plan`);
  if (base.onBuild && base.onBuild.length > 0) {
    const { line, endLine } = stage.header.location;
    throw new DockerfileUnsupportedError('the base image has ONBUILD triggers, which Cairn does not run', line, endLine);
  }
  return new StageResolver(parsed.stages, stage, ast.directives.escape, options, parsed.globalArgs, base).resolve();
}
