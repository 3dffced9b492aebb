import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SERVICE_TABLE_ACTIONS } from '../lib/trip-saga-stack';
import { logicalId, resourcesOf, resourcesOfStatement, routing, statementsOfRole, synth } from './helpers';

// Given the synthesized app
const { stack, json } = synth();
const getAtt = (id: string, attr = 'Arn') => ({ 'Fn::GetAtt': [id, attr] });
const ref = (id: string) => ({ Ref: id });
const busArn = getAtt(logicalId(stack, stack.bus));
const stateMachineArn = ref(logicalId(stack, stack.stateMachine));

/** A policy flattened to "Effect action resource" grants, so merged statements compare equal. */
function grants(statements: any[]): string[] {
  const out = new Set<string>();
  for (const s of statements) {
    const condition = s.Condition === undefined ? '' : ` if ${JSON.stringify(s.Condition)}`;
    for (const action of [s.Action].flat()) {
      for (const resource of resourcesOfStatement(s)) {
        out.add(`${s.Effect} ${action} ${JSON.stringify(resource)}${condition}`);
      }
    }
  }
  return [...out].sort();
}

const allow = (actions: readonly string[], resource: unknown, condition?: unknown) =>
  actions.map((a) => `Allow ${a} ${JSON.stringify(resource)}${condition ? ` if ${JSON.stringify(condition)}` : ''}`);

/** PutEvents on this bus as one source only (events:source: Amazon EventBridge User Guide,
 * "Using IAM policy conditions in Amazon EventBridge"). */
const putEventsAs = (source: string) =>
  allow(['events:PutEvents'], busArn, { StringEquals: { 'events:source': source } });

const SOURCE_OF: Record<string, string> = { hotel: 'trip.hotel', flight: 'trip.flight', car: 'trip.car', bridge: 'trip.bridge' };

function roleOf(consumer: string): string {
  const fn = json.Resources[logicalId(stack, stack.consumers[routing.queues.find((q) => q.consumer === consumer)!.name]!.fn)];
  return fn.Properties.Role['Fn::GetAtt'][0];
}

function expectedFor(consumer: string): string[] {
  const c = Object.values(stack.consumers).find((x) => x.route.consumer === consumer)!;
  const logGroupId = logicalId(stack, c.fn.logGroup as any);
  const queueArn = getAtt(logicalId(stack, c.queue));
  const expected = [
    // its own log group, and the streams in it
    ...allow(['logs:CreateLogStream', 'logs:PutLogEvents'], getAtt(logGroupId)),
    ...allow(['logs:CreateLogStream', 'logs:PutLogEvents'], {
      'Fn::Join': ['', [`arn:aws:logs:${stack.region}:${stack.account}:log-group:`, ref(logGroupId)]],
    }),
    // X-Ray has no resource-level permissions
    ...allow(['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], '*'),
    // its own queue, as an event source
    ...allow(
      ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'],
      queueArn,
    ),
    // this bus only, as its own source only
    ...putEventsAs(SOURCE_OF[consumer]!),
  ];
  const table = stack.tables[consumer];
  if (table) expected.push(...allow(SERVICE_TABLE_ACTIONS, getAtt(logicalId(stack, table))));
  if (consumer === 'bridge') {
    expected.push(
      ...allow(
        ['states:SendTaskFailure', 'states:SendTaskHeartbeat', 'states:SendTaskSuccess', 'states:StartExecution'],
        stateMachineArn,
      ),
      // reading back the execution of a trip whose request came again (DescribeExecution)
      ...allow(['states:DescribeExecution'], {
        'Fn::Join': ['', [
          `arn:aws:states:${stack.region}:${stack.account}:execution:`,
          { 'Fn::Select': [6, { 'Fn::Split': [':', stateMachineArn] }] },
          ':*',
        ]],
      }),
    );
  }
  return expected.sort();
}

describe('least privilege per function', () => {
  for (const consumer of ['hotel', 'flight', 'car', 'bridge']) {
    it(`${consumer}: exactly its own log group, queue${consumer === 'bridge' ? ', the workflow' : ', table'} and this bus`, () => {
      assert.deepEqual(grants(statementsOfRole(json, roleOf(consumer))), expectedFor(consumer));
    });

    it(`${consumer}: its role trusts Lambda only and carries no managed policy`, () => {
      const role = json.Resources[roleOf(consumer)];
      assert.equal(role.Properties.ManagedPolicyArns, undefined);
      assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement, [
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
    });
  }

  it('only the bridge may start executions or answer task tokens', () => {
    for (const [, policy] of resourcesOf(json, 'AWS::IAM::Policy')) {
      const actions = policy.Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat());
      const states = actions.filter((a: string) => a.startsWith('states:'));
      if (states.length === 0) continue;
      assert.deepEqual(policy.Properties.Roles, [ref(roleOf('bridge'))]);
    }
  });

  it('every table is reachable from its own service only', () => {
    for (const service of ['hotel', 'flight', 'car']) {
      const tableId = logicalId(stack, stack.tables[service]!);
      for (const [, policy] of resourcesOf(json, 'AWS::IAM::Policy')) {
        if (!JSON.stringify(policy.Properties.PolicyDocument).includes(`"${tableId}"`)) continue;
        assert.deepEqual(policy.Properties.Roles, [ref(roleOf(service))], `${service} table leaks`);
      }
    }
  });

  it('PutEvents is granted on this bus and nowhere else, always for one events:source', () => {
    const sources: string[] = [];
    for (const [, policy] of resourcesOf(json, 'AWS::IAM::Policy')) {
      for (const s of policy.Properties.PolicyDocument.Statement) {
        if (![s.Action].flat().some((a: string) => a.startsWith('events:'))) continue;
        assert.deepEqual([s.Action].flat(), ['events:PutEvents']);
        assert.deepEqual(resourcesOfStatement(s), [busArn]);
        // issue 13: without it any function could put a TripBooked (trip.saga) or a command
        const source = s.Condition?.StringEquals?.['events:source'];
        assert.equal(typeof source, 'string', `an unconditioned PutEvents grant: ${JSON.stringify(s)}`);
        assert.deepEqual(Object.keys(s.Condition), ['StringEquals']);
        sources.push(source);
      }
    }
    // one grant per identity: four functions and the workflow, each its own source
    assert.deepEqual(sources.sort(), ['trip.bridge', 'trip.car', 'trip.flight', 'trip.hotel', 'trip.saga']);
  });

  it('a booking service may only get, put and update items of its table (no delete, batch or query)', () => {
    for (const service of ['hotel', 'flight', 'car']) {
      const actions = statementsOfRole(json, roleOf(service)).flatMap((s) => s.Action).filter((a: string) => a.startsWith('dynamodb:'));
      assert.deepEqual([...new Set(actions)].sort(), ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    }
  });
});

describe('state machine role', () => {
  const roleId = json.Resources[logicalId(stack, stack.stateMachine)].Properties.RoleArn['Fn::GetAtt'][0];

  it('may put events on this bus, deliver its logs and traces, and nothing more', () => {
    assert.deepEqual(
      grants(statementsOfRole(json, roleId)),
      [
        ...putEventsAs('trip.saga'),
        // CloudWatch Logs vended delivery and X-Ray: "*" is the only resource they accept
        ...allow(
          [
            'logs:CreateLogDelivery', 'logs:DeleteLogDelivery', 'logs:DescribeLogGroups', 'logs:DescribeResourcePolicies',
            'logs:GetLogDelivery', 'logs:ListLogDeliveries', 'logs:PutResourcePolicy', 'logs:UpdateLogDelivery',
            'xray:GetSamplingRules', 'xray:GetSamplingTargets', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments',
          ],
          '*',
        ),
      ].sort(),
    );
  });

  it('trusts Step Functions of this account only (confused-deputy conditions)', () => {
    const role = json.Resources[roleId];
    assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement, [
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'states.amazonaws.com' },
        Condition: {
          ArnLike: { 'aws:SourceArn': `arn:aws:states:${stack.region}:${stack.account}:stateMachine:*` },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      },
    ]);
  });
});

describe('no other identities', () => {
  it('has exactly one role per function plus the state machine role', () => {
    assert.equal(resourcesOf(json, 'AWS::IAM::Role').length, routing.queues.length + 1);
    assert.equal(resourcesOf(json, 'AWS::IAM::User').length, 0);
    assert.equal(resourcesOf(json, 'AWS::IAM::ManagedPolicy').length, 0);
  });
});
