/**
 * The `cairn` command line. It answers people: `--help` and `--version` at once (no server code
 * is loaded for them), and every mistake as one line on stderr with exit status 2 — what is
 * wrong and, for a misspelling, the closest known name. Unexpected failures are one line too,
 * exit status 1, with the stack only when asked for (--log-level debug or trace).
 */
import { didYouMean } from '../config/suggest.js';
import { COMMANDS, HELP_COMMAND, type Command } from './commands.js';
import { failureOf, UsageError } from './errors.js';
import { commandHelp, groupHelp, mainHelp } from './help.js';
import { parseOptions } from './options.js';
import { cairnVersion } from './version.js';

const GROUPS = [...new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!))];

export async function main(argv: string[]): Promise<void> {
  let command: Command | undefined;
  try {
    await run(argv, (c) => (command = c));
  } catch (error) {
    const failure = failureOf(error, { directoryInUse: command?.whenDirectoryInUse ?? 'stop it first' });
    const line = failure.message.replace(/\s*\n\s*/g, ' ');
    const details = failure.unexpected && wantsDetails(argv, process.env);
    const hint = failure.unexpected && !details ? ' (run again with --log-level debug for details)' : '';
    process.stderr.write(`cairn: ${line}${hint}\n`);
    if (details && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exit(failure.status);
  }
}

async function run(argv: readonly string[], started: (command: Command) => void): Promise<void> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') return print(mainHelp());
  if (first === '--version' || first === '-V') return print(`cairn ${cairnVersion()}\n`);
  if (first === HELP_COMMAND.name) return print(helpTopic(rest));
  const { command, args } = resolveCommand(first, rest);
  if (!command) return print(groupHelp(first));
  started(command);
  const options = parseOptions(args, command.options, `cairn ${command.name}`, command.arguments?.length ?? 0);
  if (options.values.help) return print(commandHelp(command));
  await command.run(options);
}

/**
 * The command `words` name, and the arguments after it. A group without a sub-command (or with
 * --help) resolves to no command: its help is shown.
 */
function resolveCommand(first: string, rest: readonly string[]): { command?: Command; args: readonly string[] } {
  if (first.startsWith('-')) {
    throw new UsageError(`unknown option ${first}${didYouMean(first, ['--help', '--version'], (s) => s)}; usage: cairn <command> [options]`);
  }
  if (GROUPS.includes(first)) {
    const [sub, ...args] = rest;
    if (sub === undefined || sub === '--help' || sub === '-h') return { args };
    const command = COMMANDS.find((c) => c.name === `${first} ${sub}`);
    if (command) return { command, args };
    const subs = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.slice(first.length + 1));
    throw new UsageError(`unknown ${first} command "${sub}"${didYouMean(sub, subs)}; run cairn ${first} --help for the list`);
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (command) return { command, args: rest };
  const names = [...COMMANDS.map((c) => c.name.split(' ')[0]!), HELP_COMMAND.name];
  throw new UsageError(`unknown command "${first}"${didYouMean(first, new Set(names))}; run cairn --help for the list`);
}

/** `cairn help`, `cairn help serve`, `cairn help admin create`. */
function helpTopic(words: readonly string[]): string {
  if (words.length === 0) return mainHelp();
  const [first, ...rest] = words;
  if (first === HELP_COMMAND.name && rest.length === 0) return mainHelp();
  const { command, args } = resolveCommand(first!, rest);
  if (args.length > 0) throw new UsageError(`unexpected argument "${args[0]}" for cairn help`);
  return command ? commandHelp(command) : groupHelp(first!);
}

function print(text: string): void {
  process.stdout.write(text);
}

/** Whether the person asked for details (the stack) with a debug or trace log level. */
function wantsDetails(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  let level = env.CAIRN_LOG_LEVEL;
  argv.forEach((arg, i) => {
    if (arg === '--log-level') level = argv[i + 1];
    else if (arg.startsWith('--log-level=')) level = arg.slice('--log-level='.length);
  });
  return /^(debug|trace)$/.test(level ?? '');
}
