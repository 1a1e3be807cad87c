// Validates the OpenAPI document on stdin against the official schema of its version,
// as shipped inside @seriousme/openapi-schema-validator (nothing is downloaded), and
// prints {valid, version, errors}. A script of its own because the validator is an ES
// module, which Jest's CommonJS runtime cannot load.
import { Buffer } from 'node:buffer';
import { Validator } from '@seriousme/openapi-schema-validator';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const validator = new Validator();
const result = await validator.validate(JSON.parse(Buffer.concat(chunks).toString('utf8')));
process.stdout.write(JSON.stringify({ valid: result.valid, version: validator.version, errors: result.errors ?? null }));
