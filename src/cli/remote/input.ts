/** What `cairn login` and `cairn users create` read from the person: a name, a password. */
import { createInterface } from 'node:readline/promises';
import { RemoteError } from './errors.js';

/** All of standard input, less one trailing newline (`echo "$PASS" | cairn login …`). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function prompt(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw new RemoteError(`no terminal to ask "${question.trim()}": pass it as an option`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

/** Asks without echoing what is typed; refuses when there is no terminal (use --password-stdin). */
export async function promptHidden(question: string): Promise<string> {
  if (!process.stdin.isTTY) throw new RemoteError('no terminal to ask for the password: use --password-stdin');
  process.stderr.write(question);
  process.stdin.setRawMode(true);
  process.stdin.resume();
  try {
    let typed = '';
    for await (const chunk of process.stdin) {
      for (const ch of (chunk as Buffer).toString('utf8')) {
        if (ch === '\r' || ch === '\n') return typed;
        if (ch === '\u0003') throw new RemoteError('interrupted');
        if (ch === '\u007f') typed = typed.slice(0, -1);
        else typed += ch;
      }
    }
    return typed;
  } finally {
    process.stdin.setRawMode(false);
    process.stdin.pause();
    process.stderr.write('\n');
  }
}
