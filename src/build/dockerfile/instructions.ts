/**
 * Each parsed instruction as a typed command, checked the way BuildKit checks the whole file before
 * building anything: known flags only, argument counts, JSON where it is required, healthcheck
 * durations. Nothing is expanded yet (resolve.ts does that, stage by stage).
 */
import { DockerfileSyntaxError } from './errors.js';
import { FlagError, parseFlags, type FlagKind, type Flags } from './flags.js';
import type { AstInstruction, Heredoc, Location } from './model.js';
import { heredocWord } from './parser.js';
import { parseDuration } from './values.js';

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export interface ArgDefinition {
  readonly key: string;
  readonly value?: string;
}

export interface HealthcheckCommand {
  readonly test: readonly string[];
  readonly interval: number;
  readonly timeout: number;
  readonly startPeriod: number;
  readonly startInterval: number;
  readonly retries: number;
}

interface Base {
  readonly instruction: AstInstruction;
  readonly location: Location;
}

export type Command = Base &
  (
    | { readonly kind: 'from'; readonly base: string; readonly stageName?: string; readonly platform?: string }
    | { readonly kind: 'arg'; readonly args: readonly ArgDefinition[] }
    | { readonly kind: 'env' | 'label'; readonly pairs: readonly KeyValue[] }
    | { readonly kind: 'maintainer' | 'workdir' | 'user' | 'stopsignal'; readonly value: string }
    | { readonly kind: 'expose' | 'volume'; readonly values: readonly string[] }
    | { readonly kind: 'cmd' | 'entrypoint' | 'shell'; readonly args: readonly string[]; readonly json: boolean }
    | { readonly kind: 'run'; readonly args: readonly string[]; readonly json: boolean; readonly heredocs: readonly Heredoc[]; readonly mounts: readonly string[]; readonly network?: string; readonly security?: string; readonly devices: readonly string[] }
    | { readonly kind: 'copy' | 'add'; readonly sources: readonly string[]; readonly contents: readonly Heredoc[]; readonly dest: string; readonly flags: Flags }
    | { readonly kind: 'healthcheck'; readonly health: HealthcheckCommand }
    | { readonly kind: 'onbuild'; readonly expression: string }
  );

const COPY_FLAGS: Record<string, FlagKind> = { chown: 'string', chmod: 'string', from: 'string', link: 'bool', exclude: 'strings', parents: 'bool' };
const ADD_FLAGS: Record<string, FlagKind> = { chown: 'string', chmod: 'string', link: 'bool', exclude: 'strings', checksum: 'string', 'keep-git-dir': 'bool', unpack: 'bool' };
const RUN_FLAGS: Record<string, FlagKind> = { mount: 'strings', network: 'string', security: 'string', device: 'strings' };
const HEALTH_FLAGS: Record<string, FlagKind> = { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' };
const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

class CommandError extends Error {}

const atLeastOne = (name: string) => new CommandError(`${name} requires at least one argument`);
const exactlyOne = (name: string) => new CommandError(`${name} requires exactly one argument`);

/** The typed command for one instruction. Throws DockerfileSyntaxError naming its line. */
export function parseCommand(instruction: AstInstruction): Command {
  const location = instruction.location;
  try {
    return { instruction, location, ...parseArguments(instruction) } as Command;
  } catch (error) {
    if (error instanceof CommandError || error instanceof FlagError) {
      throw new DockerfileSyntaxError(error.message, location.line, location.endLine);
    }
    throw error;
  }
}

function noFlags(instruction: AstInstruction): void {
  parseFlags(instruction.flags, {});
}

function parseArguments(instruction: AstInstruction): Record<string, unknown> {
  const { keyword, args } = instruction;
  const name = keyword.toUpperCase();
  switch (keyword) {
    case 'from': {
      const flags = parseFlags(instruction.flags, { platform: 'string' });
      let stageName: string | undefined;
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        stageName = args[2]!.toLowerCase();
        if (!STAGE_NAME.test(stageName)) throw new CommandError(`invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`);
      } else if (args.length !== 1) {
        throw new CommandError('FROM requires either one or three arguments');
      }
      return { kind: 'from', base: args[0], stageName, platform: flags.string('platform') };
    }
    case 'arg': {
      noFlags(instruction);
      if (args.length === 0) throw atLeastOne(name);
      return {
        kind: 'arg',
        args: args.map((word) => {
          const eq = word.indexOf('=');
          if (eq === 0) throw new CommandError('ARG names can not be blank');
          return eq < 0 ? { key: word } : { key: word.slice(0, eq), value: word.slice(eq + 1) };
        }),
      };
    }
    case 'env':
    case 'label': {
      noFlags(instruction);
      if (args.length === 0) throw atLeastOne(name);
      const pairs: KeyValue[] = [];
      for (let i = 0; i < args.length; i += 3) {
        if (args[i] === '') throw new CommandError(`${name} names can not be blank`);
        pairs.push({ key: args[i]!, value: args[i + 1]! });
      }
      return { kind: keyword, pairs };
    }
    case 'maintainer':
    case 'workdir':
    case 'user':
    case 'stopsignal':
      noFlags(instruction);
      if (args.length !== 1) throw exactlyOne(name);
      return { kind: keyword, value: args[0] };
    case 'expose':
    case 'volume':
      noFlags(instruction);
      if (args.length === 0) throw atLeastOne(name);
      // BuildKit sorts EXPOSE's words before expanding them.
      return { kind: keyword, values: keyword === 'expose' ? [...args].sort() : args };
    case 'cmd':
    case 'entrypoint':
      noFlags(instruction);
      return { kind: keyword, args, json: instruction.json };
    case 'shell':
      noFlags(instruction);
      if (args.length === 0) throw atLeastOne(name);
      if (!instruction.json) throw new CommandError('SHELL requires the arguments to be in JSON form');
      return { kind: keyword, args, json: true };
    case 'run': {
      const flags = parseFlags(instruction.flags, RUN_FLAGS);
      if (instruction.heredocs.length > 0 && (args.length !== 1 || instruction.json)) {
        throw new CommandError(`parsing produced an invalid run command: ${args.join(' ')}`);
      }
      return {
        kind: 'run',
        args,
        json: instruction.json,
        heredocs: instruction.heredocs,
        mounts: flags.strings('mount'),
        network: flags.string('network'),
        security: flags.string('security'),
        devices: flags.strings('device'),
      };
    }
    case 'copy':
    case 'add':
      return { kind: keyword, ...parseSourcesAndDest(instruction, parseFlags(instruction.flags, keyword === 'copy' ? COPY_FLAGS : ADD_FLAGS)) };
    case 'healthcheck':
      return { kind: 'healthcheck', health: parseHealthcheck(instruction) };
    case 'onbuild': {
      noFlags(instruction);
      const trigger = instruction.next;
      if (!trigger) throw atLeastOne(name);
      if (trigger.keyword === 'onbuild') throw new CommandError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (trigger.keyword === 'maintainer' || trigger.keyword === 'from') throw new CommandError(`${trigger.keyword.toUpperCase()} isn't allowed as an ONBUILD trigger`);
      return { kind: 'onbuild', expression: instruction.original.replace(/^\s*ONBUILD\s*/i, '') };
    }
    default:
      throw new CommandError(`unknown instruction: ${name}`);
  }
}

function parseSourcesAndDest(instruction: AstInstruction, flags: Flags): { sources: string[]; contents: Heredoc[]; dest: string; flags: Flags } {
  const name = instruction.keyword.toUpperCase();
  const { args } = instruction;
  if (args.length < 2) throw new CommandError(`${name} requires at least two arguments, but only one was provided. Destination could not be determined`);
  const dest = args[args.length - 1]!;
  if (typeof heredocWord(dest) === 'object') throw new CommandError(`${name} cannot accept a heredoc as a destination`);
  const byName = new Map(instruction.heredocs.map((doc) => [doc.name, doc]));
  const sources: string[] = [];
  const contents: Heredoc[] = [];
  for (const source of args.slice(0, -1)) {
    const doc = instruction.json ? undefined : heredocWord(source);
    if (typeof doc === 'object') {
      const body = byName.get(doc.name);
      contents.push({ ...doc, content: body?.content ?? '' });
    } else {
      sources.push(source);
    }
  }
  return { sources, contents, dest, flags };
}

function parseHealthcheck(instruction: AstInstruction): HealthcheckCommand {
  const { args } = instruction;
  if (args.length === 0) throw atLeastOne('HEALTHCHECK');
  const type = args[0]!.toUpperCase();
  const rest = args.slice(1);
  const none = { interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  if (type === 'NONE') {
    if (rest.length > 0) throw new CommandError('HEALTHCHECK NONE takes no arguments');
    return { test: ['NONE'], ...none };
  }
  const flags = parseFlags(instruction.flags, HEALTH_FLAGS);
  if (type !== 'CMD') throw new CommandError(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
  const command = instruction.json ? rest : rest.length > 0 ? [rest.join(' ')] : [];
  if (command.length === 0) throw new CommandError('Missing command after HEALTHCHECK CMD');
  const interval = (flag: string): number => {
    const value = flags.string(flag);
    if (value === undefined || value === '') return 0;
    const ns = parseDuration(value);
    if (ns === undefined) throw new CommandError(`time: invalid duration "${value}"`);
    if (ns !== 0 && ns < 1_000_000) throw new CommandError(`Interval "${flag}" cannot be less than 1ms`);
    return ns;
  };
  const retriesText = flags.string('retries');
  let retries = 0;
  if (retriesText !== undefined && retriesText !== '') {
    if (!/^[+-]?\d+$/.test(retriesText)) throw new CommandError(`strconv.ParseInt: parsing "${retriesText}": invalid syntax`);
    retries = Number(retriesText);
    if (retries < 0) throw new CommandError(`--retries cannot be negative (${retries})`);
  }
  return {
    test: [instruction.json ? 'CMD' : 'CMD-SHELL', ...command],
    interval: interval('interval'),
    timeout: interval('timeout'),
    startPeriod: interval('start-period'),
    startInterval: interval('start-interval'),
    retries,
  };
}
