/**
 * Turns the command line's --preset / --config / --set into one validated run configuration (shared by
 * train, compare and tune).
 */
import { readFileSync } from 'node:fs';
import { WebmtlError } from '../errors.js';
import { applyOverrides, parseConfig, type RunConfig } from './config.js';
import { listPresets, preset } from './presets.js';

/** Reads --preset / --config plus --set overrides into a validated config. */
export function resolveConfig(opts: { preset?: string; config?: string; set?: string[] }): RunConfig {
  if (opts.preset && opts.config) throw new WebmtlError('give either --preset or --config, not both');
  let base: unknown;
  let source: string;
  if (opts.config) {
    source = opts.config;
    let text: string;
    try {
      text = readFileSync(opts.config, 'utf8');
    } catch (e) {
      throw new WebmtlError(`cannot read config file ${opts.config}: ${(e as Error).message}`);
    }
    try {
      base = JSON.parse(text);
    } catch (e) {
      throw new WebmtlError(`config file ${opts.config} is not valid JSON: ${(e as Error).message}`);
    }
  } else {
    if (!opts.preset) {
      throw new WebmtlError(
        `no configuration given: name one with --preset <name> or --config <file.json> (and change values with --set key=value).\nPresets:\n${listPresets()}\nExample: webmtl train --preset smoke`,
      );
    }
    const name = opts.preset;
    source = `preset '${name}'`;
    base = preset(name);
  }
  return parseConfig(applyOverrides(base, opts.set ?? []), opts.set?.length ? `${source} with --set ${opts.set.join(' ')}` : source);
}
