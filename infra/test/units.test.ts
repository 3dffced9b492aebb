import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { buildApp } from '../lib/app';
import { binaryNameOf } from '../lib/cargo';
import { CARGO_MANIFEST, REPO_ROOT, ROUTING_TABLE } from '../lib/paths';
import { loadRoutingTable } from '../lib/routing';
import { architectureOf, flag } from '../lib/settings';
import { DEFINITION_FILE, routing } from './helpers';

const tmpDirs: string[] = [];
process.on('exit', () => tmpDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tmpFile(name: string, content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trip-saga-unit-'));
  tmpDirs.push(dir);
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

describe('Rust binaries', () => {
  const members = fs.readFileSync(CARGO_MANIFEST, 'utf8');

  for (const q of routing.queues) {
    it(`${q.consumer}: is a workspace member whose binary name cargo lambda can build`, () => {
      assert.ok(members.includes(`"services/${q.consumer}"`), `services/${q.consumer} is not in the workspace`);
      const name = binaryNameOf(path.join(REPO_ROOT, 'services', q.consumer));
      assert.match(name, /^[A-Za-z0-9_-]+$/);
      assert.ok(name.endsWith(q.consumer), `binary ${name} does not look like the ${q.consumer} Lambda`);
    });
  }

  it('prefers the single [[bin]] name over the package name', () => {
    const dir = path.dirname(tmpFile('Cargo.toml', '[package]\nname = "trip-x"\n\n[[bin]]\nname = "x" # the Lambda\npath = "src/main.rs"\n'));
    assert.equal(binaryNameOf(dir), 'x');
  });

  it('falls back to the package name, ignoring dependency tables', () => {
    const dir = path.dirname(tmpFile('Cargo.toml', '[package]\nname = "trip-y"\n[dependencies]\nfoo = { name = "bar" }\n'));
    assert.equal(binaryNameOf(dir), 'trip-y');
  });
});

describe('routing table loader', () => {
  it('accepts the real events/routing.json', () => {
    assert.equal(loadRoutingTable(ROUTING_TABLE).rules.length, routing.rules.length);
  });

  const broken = (mutate: (t: any) => void) => {
    const t = JSON.parse(fs.readFileSync(ROUTING_TABLE, 'utf8'));
    mutate(t);
    return tmpFile('routing.json', JSON.stringify(t));
  };

  it('rejects a rule aimed at a queue that does not exist', () => {
    const file = broken((t) => (t.rules[0].target.name = 'nowhere'));
    assert.throws(() => loadRoutingTable(file), /unknown queue nowhere/);
  });

  it('rejects an empty pattern and an unknown target kind', () => {
    const file = broken((t) => {
      t.rules[0].eventPattern = {};
      t.rules[1].target.kind = 'lambda';
    });
    assert.throws(() => loadRoutingTable(file), /eventPattern must be a non-empty object[\s\S]*target kind/);
  });

  it('rejects a non-positive batch size', () => {
    const file = broken((t) => (t.queues[0].batchSize = 0));
    assert.throws(() => loadRoutingTable(file), /batchSize must be a positive integer/);
  });

  it('refuses a visibility timeout shorter than 6x the function timeout at synth', () => {
    const file = broken((t) => (t.queues[0].visibilityTimeoutSeconds = 30));
    assert.throws(
      () => buildApp({ appProps: { context: { 'aws:cdk:bundling-stacks': [] } }, routingFile: file, definitionFile: DEFINITION_FILE }),
      /visibilityTimeoutSeconds 30 < 60/,
    );
  });

  it('refuses a consumer the stack does not know how to build', () => {
    const file = broken((t) => (t.queues[0].consumer = 'train'));
    assert.throws(
      () => buildApp({ appProps: { context: { 'aws:cdk:bundling-stacks': [] } }, routingFile: file, definitionFile: DEFINITION_FILE }),
      /unknown consumer train/,
    );
  });
});

describe('context parsing', () => {
  it('reads booleans the way the CLI passes them (strings) and as JSON booleans', () => {
    assert.equal(flag('true', 'demo'), true);
    assert.equal(flag(true, 'demo'), true);
    assert.equal(flag('false', 'demo'), false);
    assert.equal(flag(undefined, 'demo'), false);
    assert.throws(() => flag('1', 'demo'), /demo must be true or false/);
  });

  it('defaults to arm64 and switches to x86_64 on request', () => {
    assert.equal(architectureOf(undefined).name, 'arm64');
    assert.equal(architectureOf('arm64').name, 'arm64');
    assert.equal(architectureOf('x86_64').name, 'x86_64');
  });
});

describe('cdk.json', () => {
  it('runs the app from the repository root with the tsx of infra/', () => {
    const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'));
    const [runner, entry, ...rest] = String(cdkJson.app).split(/\s+/);
    assert.deepEqual(rest, []);
    assert.ok(fs.existsSync(path.join(REPO_ROOT, runner!)), `${runner} missing: run npm ci in infra/`);
    assert.equal(entry, 'infra/bin/app.ts');
    assert.ok(fs.existsSync(path.join(REPO_ROOT, entry!)));
  });
});
