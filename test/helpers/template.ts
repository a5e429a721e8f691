// Expansion without the explanation, for the unit tests of src/template.ts (the daemon asks explainTemplate,
// which also says which names and scopes answered).
import { explainTemplate, type Scopes, type Template } from '../../src/template';

/** Expands a template; the bytes a process following the link sees. */
export function expandTemplate(template: Template, scopes: Scopes): Buffer {
  return template.refs ? explainTemplate(template, scopes).target! : template.raw;
}
