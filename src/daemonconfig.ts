// The daemon's configuration as JSON: what `varsymfs mount` hands the daemon it starts in the background
// (the options parsed and checked once, by the parent), and what `varsymfs status --json` shows as `config`.
import { CACHE_MODES, type DaemonConfig } from './daemon';
import { VarsymfsError } from './errors';
import { LOG_LEVELS } from './log';
import type { ProjectFileRule } from './project';

/** DaemonConfig with JSON's shapes: no `undefined`, and the defaults as [NAME, VALUE] pairs, in order. */
export type ConfigJson = Omit<DaemonConfig, 'source' | 'defaults'> & { source: string | null; defaults: Array<[string, string]> };

/** Every field, whatever it is: a field added to DaemonConfig travels without a change here. */
export function configToJson(config: DaemonConfig): ConfigJson {
  return { ...config, source: config.source ?? null, defaults: [...config.defaults] };
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isSeconds = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isRule = (v: unknown) => {
  const r = v as Partial<Record<'file' | 'format' | 'variable', unknown>> | null;
  if (typeof r !== 'object' || r === null || !isString(r.file)) return false;
  return r.format === 'one-value' ? isString(r.variable) : ['assignments', 'tool-versions', 'mise-toml'].includes(r.format as string);
};

/** How each field is checked; the type makes a new DaemonConfig field fail to compile until it has a check. */
const FIELDS: { readonly [K in keyof ConfigJson]-?: (v: unknown) => boolean } = {
  mountPoint: isString,
  source: (v) => v === null || isString(v),
  defaults: (v) => Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && p.every(isString)),
  allowOther: (v) => typeof v === 'boolean',
  attrTimeout: isSeconds,
  entryTimeout: isSeconds,
  cache: (v) => (CACHE_MODES as readonly unknown[]).includes(v),
  cacheSize: (v) => Number.isInteger(v) && (v as number) >= 1,
  projectRules: (v) => Array.isArray(v) && v.every(isRule),
  projectTimeout: isSeconds,
  trustDirs: (v) => Array.isArray(v) && v.every(isString),
  logLevel: (v) => (LOG_LEVELS as unknown[]).includes(v),
};

/** The configuration a parent wrote with configToJson; one-line VarsymfsError for anything else. */
export function configFromJson(text: string): DaemonConfig {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new VarsymfsError(`the daemon's configuration is not JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new VarsymfsError('the daemon\'s configuration is not a JSON object');
  const unknown = Object.keys(json).find((key) => !Object.hasOwn(FIELDS, key));
  if (unknown !== undefined) throw new VarsymfsError(`the daemon's configuration has an unknown field ${JSON.stringify(unknown)}`);
  for (const [key, check] of Object.entries(FIELDS)) {
    if (!Object.hasOwn(json, key) || !check(json[key])) throw new VarsymfsError(`the daemon's configuration has a missing or bad ${key}`);
  }
  const c = json as unknown as ConfigJson;
  return Object.freeze({
    ...c,
    source: c.source ?? undefined,
    defaults: new Map(c.defaults),
    projectRules: Object.freeze(c.projectRules.map((r) => Object.freeze({ ...r }) as ProjectFileRule)),
    trustDirs: Object.freeze([...c.trustDirs]),
  });
}
