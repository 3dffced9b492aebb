import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from '../lib/app';
import { cdkJsonContext, DEFINITION_FILE, synth } from './helpers';

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding on the app', () => {
    const { app } = synth();
    const report = new AwsSolutionsChecks(app).validateScope(app);
    const findings = report.violations.map(
      (v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    assert.deepEqual(findings, []);
    assert.equal(report.success, true);
  });

  it('fails synthesis on a new unacknowledged finding (the checks run inside the app)', () => {
    // Given the app with one careless queue added
    const { app, stack } = buildApp({
      appProps: { context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } },
      definitionFile: DEFINITION_FILE,
    });
    new sqs.Queue(stack, 'CarelessQueue');
    // When it is synthesized, then cdk-nag stops it
    const stderr = process.stderr.write;
    process.stderr.write = () => true; // the plugin prints the findings; keep the test output clean
    try {
      assert.throws(() => app.synth(), /Validation failed/);
    } finally {
      process.stderr.write = stderr;
    }
  });

  it('acknowledges only the findings the stack documents, each with a reason', () => {
    const { stack } = synth();
    const acks: { id: string; reason: string; path: string }[] = [];
    for (const c of stack.node.findAll()) {
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          acks.push({ id, reason, path: c.node.path });
        }
      }
    }
    const ids = new Set(acks.map((a) => a.id));
    const executions = `AwsSolutions-IAM5[Resource::arn:aws:states:${stack.region}:${stack.account}:execution:` +
      `{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${stack.getLogicalId(stack.stateMachine.node.defaultChild as any)}"}]}]}:*]`;
    assert.deepEqual([...ids].map((id) => id.replace(/^Annotation::/, '')).sort(), [
      'AwsSolutions-IAM5[Resource::*]',
      executions,
      'AwsSolutions-SQS3',
    ]);
    for (const a of acks) assert.ok(a.reason.length > 40, `${a.path}: ${a.id} needs a real reason`);
  });
});
