import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../lib/app';
import { REPO_ROOT, ROUTING_TABLE, STATE_MACHINE_DEFINITION } from '../lib/paths';
import { loadRoutingTable, type RoutingTable } from '../lib/routing';
import type { TripSagaStack } from '../lib/trip-saga-stack';

export const PLACEHOLDER_DEFINITION = path.join(__dirname, 'fixtures', 'placeholder.asl.json');

/**
 * The real workflow/trip-saga.asl.json once it exists; the placeholder only while the
 * workflow engineer has not committed it yet (the app itself always loads the real path).
 */
export const DEFINITION_FILE = fs.existsSync(STATE_MACHINE_DEFINITION) ? STATE_MACHINE_DEFINITION : PLACEHOLDER_DEFINITION;
if (DEFINITION_FILE !== STATE_MACHINE_DEFINITION) {
  console.warn(`# ${STATE_MACHINE_DEFINITION} missing: testing against ${PLACEHOLDER_DEFINITION}`);
}

export const routing: RoutingTable = loadRoutingTable(ROUTING_TABLE);

/** The feature flags of cdk.json, so tests synthesize what `cdk synth` synthesizes. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'));
  return cdkJson.context ?? {};
}

export interface Synthesized {
  readonly app: App;
  readonly stack: TripSagaStack;
  readonly template: Template;
  readonly json: any;
  readonly outdir: string;
}

const outdirs: string[] = [];
process.on('exit', () => {
  for (const dir of outdirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Synthesizes the app with bundling skipped (no cargo, no Docker) into a temp dir. */
/** The environment the tests synthesize for (the app itself takes the CLI's, if any). */
export const TEST_ENV = { account: '111111111111', region: 'us-east-1' };

export function synth(context: Record<string, unknown> = {}): Synthesized {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'trip-saga-cdk-'));
  outdirs.push(outdir);
  const { app, stack } = buildApp({
    appProps: {
      outdir,
      context: { ...cdkJsonContext(), ...context, 'aws:cdk:bundling-stacks': [] },
    },
    definitionFile: DEFINITION_FILE,
    env: TEST_ENV,
  });
  const template = Template.fromStack(stack);
  return { app, stack, template, json: template.toJSON(), outdir };
}

/** Resources of one type, as [logicalId, resource] pairs. */
export function resourcesOf(json: any, type: string): [string, any][] {
  return Object.entries(json.Resources as Record<string, any>).filter(([, r]) => r.Type === type);
}

/** The logical id CloudFormation gives a construct's default resource. */
export function logicalId(stack: TripSagaStack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as any);
}

/** Every `${Name}` substitution placeholder in a JSON value. */
export function placeholders(value: unknown, found = new Set<string>()): Set<string> {
  if (typeof value === 'string') {
    for (const m of value.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)) found.add(m[1]!);
  } else if (Array.isArray(value)) {
    value.forEach((v) => placeholders(v, found));
  } else if (value && typeof value === 'object') {
    Object.values(value).forEach((v) => placeholders(v, found));
  }
  return found;
}

/** Replaces `${Name}` placeholders the way Step Functions applies DefinitionSubstitutions. */
export function substitute(value: unknown, subs: Record<string, unknown>): unknown {
  if (typeof value === 'string') {
    const whole = /^\$\{([A-Za-z0-9_]+)\}$/.exec(value);
    if (whole && whole[1]! in subs) return subs[whole[1]!];
    return value.replace(/\$\{([A-Za-z0-9_]+)\}/g, (m, k) => (k in subs ? String(subs[k]) : m));
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, subs));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, subs)]));
  }
  return value;
}

/** Statements of every AWS::IAM::Policy attached to a role, with Action always an array. */
export function statementsOfRole(json: any, roleLogicalId: string): any[] {
  const statements: any[] = [];
  for (const [, p] of resourcesOf(json, 'AWS::IAM::Policy')) {
    const roles = (p.Properties.Roles ?? []).map((r: any) => r.Ref);
    if (!roles.includes(roleLogicalId)) continue;
    for (const s of p.Properties.PolicyDocument.Statement) {
      statements.push({ ...s, Action: [s.Action].flat().sort() });
    }
  }
  return statements;
}

/** Resources of a statement as an array, without the Ref AWS::NoValue fillers. */
export function resourcesOfStatement(s: any): any[] {
  return [s.Resource].flat().filter((r: any) => !(r && r.Ref === 'AWS::NoValue'));
}
