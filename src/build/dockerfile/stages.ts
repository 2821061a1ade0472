/**
 * Stage planning: the file cut into stages at each FROM, every instruction checked (so a mistake in
 * any stage fails the build before anything runs, as in BuildKit), meta ARGs (before the first
 * FROM) evaluated for FROM lines, stage references resolved (FROM an earlier stage, `COPY --from`,
 * `RUN --mount from=`), and the stages the target needs, dependencies first.
 */
import { DockerfileSyntaxError, DockerfileTargetError, ShellExpansionError } from './errors.js';
import { parseCommand, type Command } from './instructions.js';
import type { Ast, BuildOptions, StageBase, StageHeader, StagePlan } from './model.js';
import { processWord, type EnvLookup } from './shell.js';

export interface Stage {
  readonly header: StageHeader;
  /** The FROM command, then the stage's other commands. */
  readonly from: Extract<Command, { kind: 'from' }>;
  readonly commands: readonly Command[];
}

export interface ParsedFile {
  readonly metaArgs: readonly Extract<Command, { kind: 'arg' }>[];
  readonly stages: Stage[];
  /** Values of the ARGs in global scope (automatic platform args, then meta ARGs). */
  readonly globalArgs: ReadonlyMap<string, string>;
}

/** The automatic platform ARGs, in global scope without a declaration. */
export function platformArgs(platform = 'linux/amd64'): Map<string, string> {
  const [os = 'linux', arch = 'amd64', variant = ''] = platform.split('/');
  const args = new Map<string, string>();
  for (const prefix of ['BUILD', 'TARGET']) {
    args.set(`${prefix}PLATFORM`, platform);
    args.set(`${prefix}OS`, os);
    args.set(`${prefix}ARCH`, arch);
    args.set(`${prefix}VARIANT`, variant);
  }
  return args;
}

export function expandOrThrow(word: string, env: EnvLookup, escape: string, line: number, endLine: number) {
  try {
    return processWord(word, env, escape);
  } catch (error) {
    if (error instanceof ShellExpansionError) throw new DockerfileSyntaxError(`failed to process "${word}": ${error.message}`, line, endLine);
    throw error;
  }
}

const parsedFiles = new WeakMap<Ast, { key: string; file: ParsedFile }>();

/**
 * Parses every instruction into commands, evaluates meta ARGs and FROM lines. Remembered per AST
 * and options: the engine resolves stage after stage of one file.
 */
export function parseFile(ast: Ast, options: BuildOptions): ParsedFile {
  const key = JSON.stringify([options.buildArgs, options.platform ?? null]);
  const cached = parsedFiles.get(ast);
  if (cached?.key === key) return cached.file;
  const file = parseFileOnce(ast, options);
  parsedFiles.set(ast, { key, file });
  return file;
}

function parseFileOnce(ast: Ast, options: BuildOptions): ParsedFile {
  const escape = ast.directives.escape;
  const metaArgs: Extract<Command, { kind: 'arg' }>[] = [];
  const globalArgs = platformArgs(options.platform);
  const pending: Array<{ from: Extract<Command, { kind: 'from' }>; commands: Command[] }> = [];
  for (const instruction of ast.instructions) {
    const command = parseCommand(instruction);
    if (command.kind === 'from') {
      pending.push({ from: command, commands: [] });
      continue;
    }
    const current = pending[pending.length - 1];
    if (current) {
      current.commands.push(command);
      continue;
    }
    if (command.kind !== 'arg') throw new DockerfileSyntaxError('no build stage in current context', command.location.line, command.location.endLine);
    metaArgs.push(command);
    for (const arg of command.args) {
      const given = options.buildArgs[arg.key];
      const value = given ?? (arg.value === undefined ? undefined : expandOrThrow(arg.value, (n) => globalArgs.get(n), escape, command.location.line, command.location.endLine).result);
      if (value !== undefined) globalArgs.set(arg.key, value);
    }
  }
  if (pending.length === 0) throw new DockerfileSyntaxError('dockerfile contains no stages to build', ast.instructions[ast.instructions.length - 1]?.location.endLine ?? 1);

  const stages: Stage[] = [];
  const byName = new Map<string, number>();
  pending.forEach(({ from, commands }, index) => {
    const { line, endLine } = from.location;
    const lookup = (n: string) => globalArgs.get(n);
    const baseName = expandOrThrow(from.base, lookup, escape, line, endLine).result;
    if (baseName === '') throw new DockerfileSyntaxError(`base name (${from.base}) should not be blank`, line, endLine);
    const platform = from.platform === undefined ? undefined : expandOrThrow(from.platform, lookup, escape, line, endLine).result;
    const earlier = byName.get(baseName.toLowerCase());
    const base: StageBase =
      earlier !== undefined ? { kind: 'stage', index: earlier } : baseName === 'scratch' ? { kind: 'scratch' } : { kind: 'image', reference: baseName };
    const header: StageHeader = { index, ...(from.stageName ? { name: from.stageName } : {}), base, ...(platform ? { platform } : {}), location: from.location };
    stages.push({ header, from, commands });
    if (from.stageName) byName.set(from.stageName, index);
  });
  return { metaArgs, stages, globalArgs };
}

/** The last stage of that (lower-case) name: `--from` and `--target` bind the last definition. */
function lastStageNamed(stages: readonly Stage[], name: string): number {
  for (let i = stages.length - 1; i >= 0; i--) if (stages[i]!.header.name === name) return i;
  return -1;
}

/**
 * What `--from=name` (COPY) or `from=name` (RUN --mount) refers to: a stage by name (any case) or
 * 0-based index, which must come before `current`; otherwise an image reference.
 */
export function resolveFrom(stages: readonly Stage[], name: string, current: number, line: number, endLine: number): StageBase {
  const lower = name.toLowerCase();
  let index = lastStageNamed(stages, lower);
  if (index < 0 && /^\d+$/.test(name)) {
    index = Number(name);
    if (index >= stages.length) throw new DockerfileSyntaxError(`invalid stage index: ${name}`, line, endLine);
  }
  if (index < 0) return name === 'scratch' ? { kind: 'scratch' } : { kind: 'image', reference: name };
  if (index >= current) {
    throw new DockerfileSyntaxError(`cannot copy from stage "${name}", it needs to be defined before current stage "${stages[current]!.header.name ?? `stage-${current}`}"`, line, endLine);
  }
  return { kind: 'stage', index };
}

/** The `from=` of each `--mount` value, without expanding anything else. */
function mountFroms(spec: string): string[] {
  return spec
    .split(',')
    .map((field) => /^from=(.*)$/i.exec(field.replace(/^"|"$/g, ''))?.[1])
    .filter((v): v is string => v !== undefined && v !== '');
}

function dependencies(stages: readonly Stage[], stage: Stage): number[] {
  const deps: number[] = [];
  if (stage.header.base.kind === 'stage') deps.push(stage.header.base.index);
  for (const command of stage.commands) {
    const { line, endLine } = command.location;
    const froms = command.kind === 'copy' ? [command.flags.string('from')] : command.kind === 'run' ? command.mounts.flatMap(mountFroms) : [];
    for (const from of froms) {
      if (from === undefined || from === '') continue;
      if (/\$./.test(from)) {
        throw new DockerfileSyntaxError('variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround', line, endLine);
      }
      const base = resolveFrom(stages, from, stage.header.index, line, endLine);
      if (base.kind === 'stage') deps.push(base.index);
    }
  }
  return deps;
}

export function planStages(ast: Ast, options: BuildOptions): StagePlan {
  const { stages } = parseFile(ast, options);
  let target = stages.length - 1;
  if (options.target !== undefined && options.target !== '') {
    const name = options.target.toLowerCase();
    target = lastStageNamed(stages, name);
    if (target < 0) throw new DockerfileTargetError(`target stage "${options.target}" could not be found`);
  }
  // Every stage's references are checked, needed or not, as BuildKit checks them.
  const deps = stages.map((stage) => dependencies(stages, stage));
  const needed = new Set<number>();
  const visit = (index: number): void => {
    if (needed.has(index)) return;
    needed.add(index);
    for (const dep of deps[index]!) visit(dep);
  };
  visit(target);
  // Every reference points to an earlier stage, so file order is dependency order.
  return { stages: stages.map((s) => s.header), needed: [...needed].sort((a, b) => a - b), target };
}
