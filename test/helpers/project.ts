// A model of the project walk for the unit tests of src/project.ts: the directories from a working directory up
// to /, and the answer the nearest one naming a variable gives. The daemon walks in C (src/binding/project/)
// and answers from what it found with projectLookup; these say the same rule over plain directories.
import { BUILTIN_PROJECT_FILES, directoryEntries, type ProjectAnswer, type ProjectDirectory, type ProjectFileRule } from '../../src/project';

const SLASH = 0x2f;

/**
 * The project answer for `variable`: the first directory (nearest first) whose files name it. Stops
 * at that directory, so `dirs` may be lazy. undefined: no project file names it. An answer whose value
 * is undefined means the project defers: resolution goes on with the mount defaults.
 */
export function findProjectValue(variable: string, dirs: Iterable<ProjectDirectory>, rules: readonly ProjectFileRule[] = BUILTIN_PROJECT_FILES): ProjectAnswer | undefined {
  for (const dir of dirs) {
    const entry = directoryEntries(dir.read, rules).get(variable);
    if (entry !== undefined) return { ...entry, dir: dir.path };
  }
  return undefined;
}

/**
 * The directories of the walk for working directory `cwd`: itself, its parent, …, `/`. A path that is
 * not absolute (an unreachable working directory) has none.
 */
export function walkDirectories(cwd: Buffer): Buffer[] {
  if (cwd[0] !== SLASH) return [];
  const dirs: Buffer[] = [];
  let end = cwd.length;
  for (;;) {
    while (end > 1 && cwd[end - 1] === SLASH) end--;
    dirs.push(cwd.subarray(0, end));
    if (end === 1) return dirs;
    end = Math.max(cwd.lastIndexOf(SLASH, end - 1), 1);
  }
}
