// tests/kube/validate.mjs [--json] FILE - checks `uva_container kube`
// output: YAML 1.2 that parses without an error or warning (duplicate
// keys included), every document a Kubernetes object whose kind
// kubernetes-models knows, valid against the API schema of that
// Kubernetes release (types, required fields, enums, formats).  Prints
// one line "valid: N documents (Pod a, Pod b)", or each error and exits
// 1.  --json prints the documents as JSON instead (for round-trip
// checks), after the same validation.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import * as core from "kubernetes-models/v1";
import * as apps from "kubernetes-models/apps/v1";

const args = process.argv.slice(2);
const json = args[0] === "--json";
const file = json ? args[1] : args[0];
const text = readFileSync(file === "-" || !file ? 0 : file, "utf8");
const kinds = { v1: core, "apps/v1": apps };
const problems = [];
const objects = [];
const docs = parseAllDocuments(text, { uniqueKeys: true, strict: true });
for (const [i, doc] of docs.entries()) {
  for (const e of [...doc.errors, ...doc.warnings])
    problems.push(`document ${i + 1}: YAML: ${e.message}`);
  const obj = doc.toJS();
  if (obj === null || obj === undefined) continue; // an empty document
  const Model = kinds[obj.apiVersion]?.[obj.kind];
  if (!Model) {
    problems.push(`document ${i + 1}: unknown apiVersion/kind ${obj.apiVersion}/${obj.kind}`);
    continue;
  }
  try {
    new Model(obj).validate();
  } catch (e) {
    problems.push(`document ${i + 1} (${obj.kind} ${obj.metadata?.name}): ${e.message}`);
  }
  objects.push(obj);
}
if (objects.length === 0) problems.push("no Kubernetes object in the input");
if (problems.length) {
  for (const p of problems) console.error(`invalid: ${p}`);
  process.exit(1);
}
if (json) console.log(JSON.stringify(objects));
else console.log(`valid: ${objects.length} documents (${objects.map((o) => `${o.kind} ${o.metadata.name}`).join(", ")})`);
