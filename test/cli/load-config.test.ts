/** Flags become the strongest configuration source, each value named by its flag. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/errors.js';
import { loadConfig } from '../../src/cli/load-config.js';
import { CONFIG_OPTIONS, parseOptions, type OptionSpec } from '../../src/cli/options.js';

test('flags beat the environment; a bad flag value is named by its flag', () => {
  const env = { CAIRN_LOG_LEVEL: 'warn', CAIRN_LISTEN: '127.0.0.1:1' };
  const config = loadConfig(parseOptions(['--log-level', 'debug'], CONFIG_OPTIONS, 'cairn serve'), env);
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.listen.port, 1);
  assert.throws(() => loadConfig(parseOptions(['--listen', 'x'], CONFIG_OPTIONS, 'cairn serve'), {}), { message: /^--listen: "x" is not HOST:PORT/ });
});

test('a negating flag sets its setting to false; two flags for one setting are refused', () => {
  const specs: OptionSpec[] = [
    { name: 'allow-open', type: 'boolean', setting: 'allowOpen', help: '' },
    { name: 'no-allow-open', type: 'boolean', setting: 'allowOpen', negates: true, help: '' },
  ];
  assert.equal(loadConfig(parseOptions(['--no-allow-open'], specs, 'cairn serve'), { CAIRN_ALLOW_OPEN: 'true' }, specs).auth.allowOpen, false);
  assert.equal(loadConfig(parseOptions(['--allow-open'], specs, 'cairn serve'), {}, specs).auth.allowOpen, true);
  assert.throws(() => loadConfig(parseOptions(['--allow-open', '--no-allow-open'], specs, 'cairn serve'), {}, specs), (error: unknown) => {
    assert.ok(error instanceof UsageError);
    assert.equal(error.message, '--allow-open and --no-allow-open cannot both be given');
    return true;
  });
});
