// The daemon's configuration as JSON: what `varsymfs status --json` shows as `config`.
import type { DaemonConfig } from './daemon';

/** DaemonConfig with JSON's shapes: no `undefined`, and the defaults as [NAME, VALUE] pairs, in order. */
export type ConfigJson = Omit<DaemonConfig, 'source' | 'defaults'> & { source: string | null; defaults: Array<[string, string]> };

/** Every field, whatever it is: a field added to DaemonConfig travels without a change here. */
export function configToJson(config: DaemonConfig): ConfigJson {
  return { ...config, source: config.source ?? null, defaults: [...config.defaults] };
}
