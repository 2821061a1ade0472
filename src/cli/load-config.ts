/**
 * The configuration a command runs with: its flags over the environment over the config file
 * (`--config` or CAIRN_CONFIG), each value named by where it came from in error messages.
 */
import { fromEnvironment, fromFile, resolveConfig, type CairnConfig, type ConfigInput, type ConfigSource } from '../config/config.js';
import { UsageError } from './errors.js';
import { CONFIG_OPTIONS, type OptionSpec, type ParsedOptions } from './options.js';

export function loadConfig(options: ParsedOptions, env: NodeJS.ProcessEnv = process.env, specs: readonly OptionSpec[] = CONFIG_OPTIONS): CairnConfig {
  const values: ConfigInput = {};
  const flagOf = new Map<string, string>();
  for (const option of specs) {
    const value = options.values[option.name];
    if (!option.setting || value === undefined) continue;
    const other = flagOf.get(option.setting);
    if (other) throw new UsageError(`${other} and --${option.name} cannot both be given`);
    (values as Record<string, unknown>)[option.setting] = option.negates ? false : value;
    flagOf.set(option.setting, `--${option.name}`);
  }
  const flags: ConfigSource = { values, where: (key) => flagOf.get(key) ?? key };
  const configFile = (options.values.config as string | undefined) ?? env.CAIRN_CONFIG;
  return resolveConfig(flags, fromEnvironment(env), ...(configFile ? [fromFile(configFile)] : []));
}
