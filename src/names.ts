// The grammar of a variable name, in one place: what `--default`, `defaults --unset` and the project
// files accept. (The template parser reads names character by character and follows the same rule.)

/** A variable name: ASCII letters, digits and `_`, not starting with a digit. */
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True when `name` is a valid variable name. */
export function isVariableName(name: string): boolean {
  return VARIABLE_NAME.test(name);
}
