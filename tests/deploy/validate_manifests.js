// Validates rendered Kubernetes manifests (helm template output) offline:
//   node validate_manifests.js MODELS_DIR FILE...
// MODELS_DIR is a node_modules folder with kubernetes-models@4.5.1 (Kubernetes 1.27
// schemas: wrong types, bad enums, missing required fields) and js-yaml. On top of the
// schemas it checks what they leave out: object names are valid DNS names, label keys and
// values are well formed, no two objects share a kind and name. CRDs the models do not
// know (monitoring.coreos.com) get a structural check only.
'use strict';
const fs = require('fs');
const path = require('path');

const [modelsArg, ...files] = process.argv.slice(2);
const modelsDir = modelsArg && path.resolve(modelsArg);
if (!modelsDir || files.length === 0) {
  console.error('usage: node validate_manifests.js MODELS_DIR FILE...');
  process.exit(2);
}
const yaml = require(path.join(modelsDir, 'js-yaml'));
const models = path.join(modelsDir, 'kubernetes-models');

const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const labelName = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

// kubernetes-models lays its classes out as <group>/<version>/<Kind>.js; the core group
// is v1/.
function modelFor(apiVersion, kind) {
  const file = path.join(models, ...apiVersion.split('/'), `${kind}.js`);
  if (!fs.existsSync(file)) return null;
  return require(file)[kind];
}

function checkLabels(where, labels, errors) {
  for (const [k, v] of Object.entries(labels || {})) {
    const name = k.includes('/') ? k.split('/').pop() : k;
    if (!labelName.test(k) || name.length > 63) errors.push(`${where}: bad label key '${k}'`);
    if (typeof v !== 'string' || v.length > 63 || !labelValue.test(v)) {
      errors.push(`${where}: bad value for label ${k}: ${JSON.stringify(v)}`);
    }
  }
}

function checkServiceMonitor(where, doc, errors) {
  const spec = doc.spec || {};
  if (!spec.selector || typeof spec.selector !== 'object') errors.push(`${where}: spec.selector missing`);
  if (!Array.isArray(spec.endpoints) || spec.endpoints.length === 0) {
    errors.push(`${where}: spec.endpoints missing`);
  }
  for (const e of spec.endpoints || []) {
    if (typeof e.port !== 'string' || typeof e.path !== 'string') {
      errors.push(`${where}: every endpoint needs a port name and a path`);
    }
  }
}

const errors = [];
let count = 0;
for (const file of files) {
  const seen = new Set();  // one rendering per file
  const docs = yaml.loadAll(fs.readFileSync(file, 'utf8'));
  for (const doc of docs) {
    if (doc === null || doc === undefined) continue;
    count++;
    const name = doc.metadata && doc.metadata.name;
    const where = `${path.basename(file)}: ${doc.kind || '?'}/${name || '?'}`;
    if (typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') {
      errors.push(`${where}: apiVersion and kind are required`);
      continue;
    }
    if (typeof name !== 'string' || name.length > 253 || !dns1123Subdomain.test(name)) {
      errors.push(`${where}: metadata.name is not a DNS-1123 subdomain`);
    }
    // Services and StatefulSets name DNS records and pods: stricter rules.
    if (doc.kind === 'Service' && (name.length > 63 || !dns1035Label.test(name))) {
      errors.push(`${where}: a Service name must be a DNS-1035 label (<= 63 characters)`);
    }
    if (doc.kind === 'StatefulSet' && name.length > 52) {
      errors.push(`${where}: StatefulSet names over 52 characters break the pods' revision label`);
    }
    const key = `${doc.apiVersion}/${doc.kind}/${name}`;
    if (seen.has(key)) errors.push(`${where}: defined twice`);
    seen.add(key);
    checkLabels(where, doc.metadata.labels, errors);
    const template = doc.spec && doc.spec.template;
    if (template && template.metadata) checkLabels(`${where} (pod template)`, template.metadata.labels, errors);

    if (doc.apiVersion.startsWith('monitoring.coreos.com/')) {
      checkServiceMonitor(where, doc, errors);
      continue;
    }
    const Model = modelFor(doc.apiVersion, doc.kind);
    if (!Model) {
      errors.push(`${where}: no schema for ${doc.apiVersion} ${doc.kind}`);
      continue;
    }
    try {
      new Model(doc).validate();
    } catch (e) {
      const details = (e.errors || []).map((x) => `${x.instancePath || '/'} ${x.message}`).join('; ');
      errors.push(`${where}: ${details || e.message}`);
    }
  }
}
for (const e of errors) console.error(`INVALID ${e}`);
console.log(`validated ${count} documents from ${files.length} file(s): ${errors.length} error(s)`);
process.exit(errors.length === 0 && count > 0 ? 0 : 1);
