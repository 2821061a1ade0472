/** The help texts, made from the command table so they cannot drift from what is accepted. */
import { COMMANDS, HELP_COMMAND, type Command } from './commands.js';
import { describeOptions } from './options.js';

export function mainHelp(): string {
  const rows = [...COMMANDS, HELP_COMMAND].map((c) => [c.name, c.summary] as const);
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return `usage: cairn <command> [options]

Cairn, an OCI container registry that understands BuildKit build caches.

commands:
${rows.map(([name, summary]) => `  ${name.padEnd(width)}${summary}`).join('\n')}

options:
  -h, --help     show this help (cairn <command> --help: the command's options)
  -V, --version  print the version

Settings come from flags, then the environment, then a JSON config file (--config); README lists them all.
`;
}

export function commandHelp(command: Command): string {
  const words = command.arguments?.map((a) => ` ${a}`).join('') ?? '';
  return `usage: cairn ${command.name}${words} [options]

${wrap(command.description, 96)}

options ([VARIABLE]: the environment variable that sets it too):
${describeOptions(command.options)}
`;
}

/** `cairn admin`: the group's commands. */
export function groupHelp(group: string): string {
  const members = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  return `usage: cairn ${group} <command> [options]

commands:
${members.map((c) => `  ${c.name.padEnd(Math.max(...members.map((m) => m.name.length)) + 2)}${c.summary}`).join('\n')}
`;
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}
