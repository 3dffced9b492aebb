// Synthesizes the app into a directory without building any Rust (bundling skipped), with
// cdk.json's feature flags, for linters: `tsx scripts/synth-unbundled.ts <outdir> [key=value ...]`.
// Extra arguments are context, like `cdk synth -c key=value`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildApp } from '../lib/app';
import { REPO_ROOT } from '../lib/paths';

const [outdirArg, ...contextArgs] = process.argv.slice(2);
if (!outdirArg) {
  console.error('usage: synth-unbundled.ts <outdir> [key=value ...]');
  process.exit(64);
}
const outdir = path.resolve(outdirArg);
const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'));
const context: Record<string, unknown> = { ...(cdkJson.context ?? {}) };
for (const arg of contextArgs) {
  const eq = arg.indexOf('=');
  if (eq <= 0) throw new Error(`context argument must be key=value, got ${arg}`);
  context[arg.slice(0, eq)] = arg.slice(eq + 1);
}
context['aws:cdk:bundling-stacks'] = [];
fs.rmSync(outdir, { recursive: true, force: true });
const { app } = buildApp({ appProps: { outdir, context } });
const assembly = app.synth();
for (const stack of assembly.stacks) console.log(path.join(outdir, stack.templateFile));
