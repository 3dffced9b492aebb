import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Token } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../lib/app';
import {
  ARCHIVE_RETENTION,
  EMF_METRICS,
  FUNCTION_MEMORY_MB,
  FUNCTION_TIMEOUT,
  METRICS_NAMESPACE,
  TARGET_MAX_EVENT_AGE,
  TARGET_RETRY_ATTEMPTS,
  VISIBILITY_TO_TIMEOUT_RATIO,
} from '../lib/trip-saga-stack';
import {
  cdkJsonContext,
  DEFINITION_FILE,
  logicalId,
  placeholders,
  resourcesOf,
  routing,
  substitute,
  synth,
} from './helpers';

// Given the app as `cdk synth` builds it (bundling skipped)
const base = synth();
const { stack, template, json } = base;
const getAtt = (id: string, attr = 'Arn') => ({ 'Fn::GetAtt': [id, attr] });
const ref = (id: string) => ({ Ref: id });
const busId = logicalId(stack, stack.bus);

describe('event bus and archive', () => {
  it('creates the custom bus named in routing.json', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::EventBus', { Name: routing.eventBusName });
  });

  it('archives every trip.* event that carries no task token, with a retention', () => {
    template.resourceCountIs('AWS::Events::Archive', 1);
    template.hasResourceProperties('AWS::Events::Archive', {
      ArchiveName: `${routing.eventBusName}-archive`,
      SourceArn: getAtt(busId),
      // issue 13: tokens never reach the archive (commands and answers carry one)
      EventPattern: { source: [{ prefix: 'trip.' }], detail: { metadata: { taskToken: [{ exists: false }] } } },
      RetentionDays: ARCHIVE_RETENTION.toDays(),
    });
  });

  it('leaves KmsKeyIdentifier out of the archive (an empty one fails deployment: aws-cdk issue 37847)', () => {
    const [[, archive]] = resourcesOf(json, 'AWS::Events::Archive') as [[string, any]];
    assert.equal('KmsKeyIdentifier' in archive.Properties, false, JSON.stringify(archive.Properties));
  });
});

describe('rules: the routing table, verbatim', () => {
  const rules = resourcesOf(json, 'AWS::Events::Rule');

  it('has one rule per routing.json rule and nothing else', () => {
    assert.deepEqual(
      rules.map(([, r]) => r.Properties.Name).sort(),
      routing.rules.map((r) => r.name).sort(),
    );
  });

  for (const route of routing.rules) {
    describe(route.name, () => {
      const found = rules.find(([, r]) => r.Properties.Name === route.name);
      const rule = found?.[1];
      const ruleId = found?.[0] ?? '';

      it('sits on the saga bus, enabled, with the table description', () => {
        assert.ok(rule, `rule ${route.name} missing`);
        assert.deepEqual(rule.Properties.EventBusName, ref(busId));
        assert.equal(rule.Properties.State, 'ENABLED');
        assert.equal(rule.Properties.Description, route.description);
      });

      it('deploys the event pattern exactly as written in routing.json', () => {
        assert.deepEqual(rule.Properties.EventPattern, route.eventPattern);
      });

      it('has exactly one target: the right queue or log group', () => {
        assert.equal(rule.Properties.Targets.length, 1);
        const target = rule.Properties.Targets[0];
        if (route.target.kind === 'queue') {
          const queue = stack.consumers[route.target.name]!.queue;
          assert.deepEqual(target.Arn, getAtt(logicalId(stack, queue)));
        } else {
          const groupId = logicalId(stack, stack.eventsLogGroup);
          assert.deepEqual(target.Arn, {
            'Fn::Join': ['', [`arn:aws:logs:${stack.region}:${stack.account}:log-group:`, ref(groupId)]],
          });
        }
      });

      it('retries for a bounded time, then parks the event in its own dead-letter queue', () => {
        const target = rule.Properties.Targets[0];
        assert.deepEqual(target.RetryPolicy, {
          MaximumRetryAttempts: TARGET_RETRY_ATTEMPTS,
          MaximumEventAgeInSeconds: TARGET_MAX_EVENT_AGE.toSeconds(),
        });
        const dlqId = logicalId(stack, stack.ruleDeadLetterQueues[route.name]!);
        assert.deepEqual(target.DeadLetterConfig, { Arn: getAtt(dlqId) });
        // EventBridge may send to that DLQ, from this rule only.
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [ref(dlqId)],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Action: 'sqs:SendMessage',
                Effect: 'Allow',
                Principal: { Service: 'events.amazonaws.com' },
                Condition: { ArnEquals: { 'aws:SourceArn': getAtt(ruleId) } },
              }),
            ]),
          },
        });
      });

      if (route.target.kind === 'queue') {
        it('is the only sender the queue policy lets in', () => {
          const queueId = logicalId(stack, stack.consumers[route.target.name]!.queue);
          template.hasResourceProperties('AWS::SQS::QueuePolicy', {
            Queues: [ref(queueId)],
            PolicyDocument: {
              Statement: Match.arrayWith([
                Match.objectLike({
                  Action: Match.arrayWith(['sqs:SendMessage']),
                  Principal: { Service: 'events.amazonaws.com' },
                  Condition: { ArnEquals: { 'aws:SourceArn': getAtt(ruleId) } },
                }),
              ]),
            },
          });
        });
      }
    });
  }

  it('gives every rule a dead-letter queue of its own', () => {
    const dlqs = rules.map(([, r]) => JSON.stringify(r.Properties.Targets[0].DeadLetterConfig));
    assert.equal(new Set(dlqs).size, rules.length);
  });
});

describe('events log group (catch-all target)', () => {
  const groupId = () => logicalId(stack, stack.eventsLogGroup);

  it('lives under /aws/events/ with a retention', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: `/aws/events/${routing.eventBusName}`,
      RetentionInDays: 30,
    });
  });

  it('has the resource policy EventBridge needs, on this group only, before the rule exists', () => {
    const policies = resourcesOf(json, 'AWS::Logs::ResourcePolicy');
    assert.equal(policies.length, 1);
    const [policyId, policy] = policies[0]!;
    const doc = JSON.stringify(policy.Properties.PolicyDocument);
    assert.match(doc, /events\.amazonaws\.com/);
    assert.match(doc, /logs:CreateLogStream/);
    assert.match(doc, /logs:PutLogEvents/);
    assert.ok(doc.includes(JSON.stringify(ref(groupId()))), 'policy must name the events log group');
    const logRule = routing.rules.find((r) => r.target.kind === 'log')!;
    const [, rule] = resourcesOf(json, 'AWS::Events::Rule').find(([, r]) => r.Properties.Name === logRule.name)!;
    assert.ok([rule.DependsOn].flat().includes(policyId), 'log rule must depend on the resource policy');
  });

  it("lets only this bus's rules in this account write (aws:SourceArn, aws:SourceAccount)", () => {
    const [[, policy]] = resourcesOf(json, 'AWS::Logs::ResourcePolicy') as [[string, any]];
    // the document is a JSON string, joined around the account and region
    const doc = JSON.stringify(policy.Properties.PolicyDocument).replace(/\\"/g, '"');
    assert.match(doc, /"Condition":\{"ArnLike":\{"aws:SourceArn":"arn:aws:events:us-east-1:111111111111:rule\/trip-saga\/\*"\}/);
    assert.match(doc, /"StringEquals":\{"aws:SourceAccount":"111111111111"\}/);
  });

  it('masks task tokens and e-mail addresses with a data protection policy', () => {
    const group = json.Resources[groupId()];
    const policy = group.Properties.DataProtectionPolicy;
    assert.ok(policy, 'the catch-all group has a data protection policy');
    const text = JSON.stringify(policy);
    const [audit, deidentify] = policy.Statement;
    const emails = 'arn:aws:dataprotection::aws:data-identifier/EmailAddress';
    assert.ok(audit.DataIdentifier.includes(emails) && audit.DataIdentifier.includes('TaskToken'), text);
    assert.ok(deidentify.DataIdentifier.includes(emails) && deidentify.DataIdentifier.includes('TaskToken'), text);
    assert.ok(deidentify.Operation.Deidentify.MaskConfig, text);
    const [custom] = policy.Configuration.CustomDataIdentifier;
    assert.equal(custom.Name, 'TaskToken');
    // the identifier matches a token as the catch-all rule logs it, and not the other fields
    const re = new RegExp(custom.Regex);
    assert.match('"metadata":{"schemaVersion":"1","taskToken":"AQCEAAAAKgAAAAMAAAAA+/="}', re);
    assert.doesNotMatch('"correlationId":"corr-1","tripId":"trip-1"', re);
    assert.ok(custom.Regex.length <= 200, 'CloudWatch Logs allows 200 characters');
  });
});

describe('queues and consumers', () => {
  for (const route of routing.queues) {
    describe(`${route.name} -> ${route.consumer}`, () => {
      const c = () => stack.consumers[route.name]!;

      it('is encrypted, SSL-only, with the visibility timeout and redrive of routing.json', () => {
        const queueId = logicalId(stack, c().queue);
        const dlqId = logicalId(stack, c().deadLetterQueue);
        const queue = json.Resources[queueId];
        assert.equal(queue.Properties.SqsManagedSseEnabled, true);
        assert.equal(queue.Properties.VisibilityTimeout, route.visibilityTimeoutSeconds);
        assert.deepEqual(queue.Properties.RedrivePolicy, {
          deadLetterTargetArn: getAtt(dlqId),
          maxReceiveCount: route.maxReceiveCount,
        });
        assert.equal(json.Resources[dlqId].Properties.SqsManagedSseEnabled, true);
        for (const id of [queueId, dlqId]) {
          template.hasResourceProperties('AWS::SQS::QueuePolicy', {
            Queues: [ref(id)],
            PolicyDocument: {
              Statement: Match.arrayWith([
                Match.objectLike({
                  Effect: 'Deny',
                  Action: 'sqs:*',
                  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
                }),
              ]),
            },
          });
        }
      });

      it('hides a message at least 6x as long as the function may run', () => {
        assert.ok(route.visibilityTimeoutSeconds >= VISIBILITY_TO_TIMEOUT_RATIO * FUNCTION_TIMEOUT.toSeconds());
      });

      it('feeds its Lambda in batches of batchSize with partial batch responses', () => {
        template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          EventSourceArn: getAtt(logicalId(stack, c().queue)),
          FunctionName: ref(logicalId(stack, c().fn)),
          BatchSize: route.batchSize,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
        });
      });

      it('runs a Rust binary on provided.al2023 arm64, JSON logs, X-Ray, 10 s, 256 MB', () => {
        const fn = json.Resources[logicalId(stack, c().fn)];
        assert.equal(fn.Properties.Runtime, 'provided.al2023');
        assert.equal(fn.Properties.Handler, 'bootstrap');
        assert.deepEqual(fn.Properties.Architectures, ['arm64']);
        assert.equal(fn.Properties.LoggingConfig.LogFormat, 'JSON');
        // INFO keeps the platform's REPORT lines (duration, memory, init)
        assert.equal(fn.Properties.LoggingConfig.SystemLogLevel, 'INFO');
        assert.deepEqual(fn.Properties.LoggingConfig.LogGroup, ref(logicalId(stack, c().fn.logGroup as any)));
        assert.deepEqual(fn.Properties.TracingConfig, { Mode: 'Active' });
        assert.equal(fn.Properties.Timeout, FUNCTION_TIMEOUT.toSeconds());
        assert.equal(fn.Properties.MemorySize, FUNCTION_MEMORY_MB);
      });

      it('gets exactly the environment its binary reads', () => {
        const fn = json.Resources[logicalId(stack, c().fn)];
        const expected: Record<string, unknown> = {
          EVENT_BUS_NAME: ref(busId),
          MAX_RECEIVE_COUNT: String(route.maxReceiveCount),
        };
        if (route.consumer === 'bridge') {
          expected.STATE_MACHINE_ARN = ref(logicalId(stack, stack.stateMachine));
        } else {
          expected.TABLE_NAME = ref(logicalId(stack, stack.tables[route.consumer]!));
        }
        assert.deepEqual(fn.Properties.Environment.Variables, expected);
      });
    });
  }

  it('has one Lambda per queue, and no other function (no custom-resource helpers)', () => {
    template.resourceCountIs('AWS::Lambda::Function', routing.queues.length);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', routing.queues.length);
  });
});

describe('tables', () => {
  it('has one table per booking service: pk/sk, on demand, PITR, deletion protection, retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 3);
    for (const service of ['hotel', 'flight', 'car']) {
      const id = logicalId(stack, stack.tables[service]!);
      const table = json.Resources[id];
      assert.deepEqual(table.Properties.KeySchema, [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]);
      assert.deepEqual(table.Properties.AttributeDefinitions, [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ]);
      assert.equal(table.Properties.BillingMode, 'PAY_PER_REQUEST');
      assert.deepEqual(table.Properties.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
      assert.equal(table.Properties.DeletionProtectionEnabled, true);
      assert.equal(table.DeletionPolicy, 'Retain');
      assert.equal(table.UpdateReplacePolicy, 'Retain');
    }
  });
});

describe('state machine', () => {
  const smId = () => logicalId(stack, stack.stateMachine);
  const sm = () => json.Resources[smId()];
  const asl = JSON.parse(fs.readFileSync(DEFINITION_FILE, 'utf8'));

  it('is a Standard workflow with X-Ray and ALL-level logs without execution data', () => {
    assert.equal(sm().Properties.StateMachineType, 'STANDARD');
    assert.deepEqual(sm().Properties.TracingConfiguration, { Enabled: true });
    assert.deepEqual(sm().Properties.LoggingConfiguration, {
      Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: getAtt(logicalId(stack, stack.node.findChild('StateMachineLogGroup') as any)) } }],
      IncludeExecutionData: false,
      Level: 'ALL',
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: `/aws/vendedlogs/states/${routing.eventBusName}`,
      RetentionInDays: 30,
    });
  });

  it('deploys the ASL file byte for byte, with EventBusName substituted by this bus', () => {
    const location = sm().Properties.DefinitionS3Location;
    assert.ok(location, 'DefinitionBody.fromFile ships the file as an asset');
    const staged = path.join(base.outdir, `asset.${location.Key}`);
    assert.equal(fs.readFileSync(staged, 'utf8'), fs.readFileSync(DEFINITION_FILE, 'utf8'));
    assert.deepEqual(sm().Properties.DefinitionSubstitutions, { EventBusName: ref(busId) });
  });

  it('leaves no placeholder of the ASL file without a substitution', () => {
    assert.deepEqual([...placeholders(asl)].sort(), Object.keys(sm().Properties.DefinitionSubstitutions).sort());
  });

  it('after substitution, puts events only on this bus (the only thing its role allows)', () => {
    const deployed = substitute(asl, { EventBusName: '<<bus>>' }) as any;
    const tasks: any[] = [];
    const walk = (states: Record<string, any>) => {
      for (const s of Object.values(states)) {
        if (s.Type === 'Task') tasks.push(s);
        for (const b of s.Branches ?? []) walk(b.States);
        if (s.Iterator) walk(s.Iterator.States);
        if (s.ItemProcessor) walk(s.ItemProcessor.States);
      }
    };
    walk(deployed.States);
    assert.ok(tasks.length > 0);
    for (const t of tasks) {
      assert.match(t.Resource, /^arn:aws:states:::events:putEvents(\.waitForTaskToken)?$/);
      const entries = (t.Parameters ?? t.Arguments).Entries;
      for (const e of entries) assert.equal(e.EventBusName, '<<bus>>');
    }
  });

  it('uses .waitForTaskToken for the commands it waits on', () => {
    assert.ok(JSON.stringify(asl).includes('arn:aws:states:::events:putEvents.waitForTaskToken'));
  });
});

describe('observability', () => {
  it('has a dashboard with executions, EMF saga metrics, DLQ depths and Lambda health', () => {
    const [, dash] = resourcesOf(json, 'AWS::CloudWatch::Dashboard')[0]!;
    assert.equal(dash.Properties.DashboardName, routing.eventBusName);
    // The body is a Fn::Join around tokens; put a marker in for each token and parse it.
    const joined = dash.Properties.DashboardBody['Fn::Join'][1]
      .map((part: unknown) => (typeof part === 'string' ? part : '@token@'))
      .join('');
    const widgets = JSON.parse(joined).widgets;
    const body = JSON.stringify(widgets);
    const expressions: string[] = widgets.flatMap((w: any) =>
      (w.properties.metrics ?? []).flatMap((m: any[]) => m.filter((x) => x && typeof x === 'object' && 'expression' in x).map((x) => x.expression)),
    );
    for (const m of ['ExecutionsStarted', 'ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionTime']) {
      assert.ok(body.includes(m), `dashboard lacks ${m}`);
    }
    for (const m of [...EMF_METRICS, 'HandlerDuration']) {
      // Schema-less SEARCH: matches whatever dimension set ([Service], [Service, Reason]) the EMF line has.
      assert.ok(
        expressions.some((e) => e.startsWith(`SEARCH('Namespace="${METRICS_NAMESPACE}" MetricName="${m}"'`)),
        `dashboard lacks a SEARCH for ${METRICS_NAMESPACE}/${m}: ${expressions.join(' | ')}`,
      );
    }
    for (const m of ['ApproximateNumberOfMessagesVisible', 'Errors', 'Duration']) {
      assert.ok(body.includes(m), `dashboard lacks ${m}`);
    }
  });

  it('alarms on every dead-letter queue as soon as one message lands', () => {
    const dlqs = [
      ...Object.values(stack.consumers).map((c) => c.deadLetterQueue),
      ...Object.values(stack.ruleDeadLetterQueues),
    ];
    assert.equal(dlqs.length, routing.queues.length + routing.rules.length);
    for (const q of dlqs) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: getAtt(logicalId(stack, q), 'QueueName') }],
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('alarms on executions that fail other than by compensating, and on timed-out and long-running ones', () => {
    const dims = [{ Name: 'StateMachineArn', Value: ref(logicalId(stack, stack.stateMachine)) }];
    // A compensated trip ends in a Fail state of the definition: those are counted from the
    // execution log by state name, and subtracted.
    const definition = JSON.parse(fs.readFileSync(DEFINITION_FILE, 'utf8'));
    const failStates = Object.entries<any>(definition.States)
      .filter(([name, st]) => st.Type === 'Fail' && name !== 'TripCompensationStuck')
      .map(([name]) => name);
    assert.ok(failStates.includes('TripBookingFailed'), `${failStates}`);
    const filters = resourcesOf(json, 'AWS::Logs::MetricFilter').map(([, r]) => r.Properties);
    const compensated = filters.find((f) => f.MetricTransformations[0].MetricName === 'CompensatedExecutions');
    assert.ok(compensated, 'a metric filter counts compensated executions');
    assert.deepEqual(compensated.LogGroupName, ref(logicalId(stack, stack.stateMachineLogGroup)));
    assert.ok(compensated.FilterPattern.includes('($.type = "FailStateEntered")'), compensated.FilterPattern);
    for (const name of failStates) {
      assert.ok(compensated.FilterPattern.includes(`($.details.name = "${name}")`), compensated.FilterPattern);
    }
    assert.equal(compensated.MetricTransformations[0].MetricNamespace, METRICS_NAMESPACE);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: 'FILL(failed, 0) - FILL(compensated, 0)', ReturnData: true }),
        Match.objectLike({
          Id: 'failed',
          MetricStat: Match.objectLike({
            Metric: { Namespace: 'AWS/States', MetricName: 'ExecutionsFailed', Dimensions: dims },
            Stat: 'Sum',
          }),
        }),
        Match.objectLike({
          Id: 'compensated',
          MetricStat: Match.objectLike({
            Metric: { Namespace: METRICS_NAMESPACE, MetricName: 'CompensatedExecutions' },
            Stat: 'Sum',
          }),
        }),
      ]),
    });
    // Not the raw ExecutionsFailed count: every compensated trip would page someone.
    const raw = resourcesOf(json, 'AWS::CloudWatch::Alarm').filter(
      ([, r]) => r.Properties.MetricName === 'ExecutionsFailed',
    );
    assert.deepEqual(raw, []);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States', MetricName: 'ExecutionsTimedOut', Dimensions: dims,
      ComparisonOperator: 'GreaterThanThreshold', Threshold: 0,
    });
    // and the timed-out alarm can fire: the definition has a top-level TimeoutSeconds
    assert.ok(Number.isInteger(definition.TimeoutSeconds) && definition.TimeoutSeconds > 0, `${definition.TimeoutSeconds}`);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States', MetricName: 'ExecutionTime', Dimensions: dims, ExtendedStatistic: 'p99',
      ComparisonOperator: 'GreaterThanThreshold', Threshold: 600_000,
    });
  });
});

describe('a compensation that never succeeds', () => {
  it('counts executions ending in TripCompensationStuck, and alarms on the first one', () => {
    const definition = JSON.parse(fs.readFileSync(DEFINITION_FILE, 'utf8'));
    assert.equal(definition.States.TripCompensationStuck?.Type, 'Fail');
    const filters = resourcesOf(json, 'AWS::Logs::MetricFilter').map(([, r]) => r.Properties);
    const stuck = filters.find((f) => f.MetricTransformations[0].MetricName === 'CompensationsStuck');
    assert.ok(stuck, 'a metric filter counts stuck compensations');
    assert.deepEqual(stuck.LogGroupName, ref(logicalId(stack, stack.stateMachineLogGroup)));
    assert.ok(stuck.FilterPattern.includes('($.type = "FailStateEntered")'), stuck.FilterPattern);
    assert.ok(stuck.FilterPattern.includes('($.details.name = "TripCompensationStuck")'), stuck.FilterPattern);
    // not counted as a compensated trip
    const compensated = filters.find((f) => f.MetricTransformations[0].MetricName === 'CompensatedExecutions');
    assert.ok(!compensated.FilterPattern.includes('TripCompensationStuck'), compensated.FilterPattern);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: 'CompensationsStuck',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      AlarmDescription: Match.stringLikeRegexp('TripCompensationStuck'),
    });
  });
});

describe('outputs', () => {
  const expected = [
    'EventBusName', 'EventBusArn', 'StateMachineArn', 'StateMachineLogGroupName', 'EventsLogGroupName',
    'ArchiveName', 'ArchiveArn', 'DashboardName',
    'HotelTableName', 'FlightTableName', 'CarTableName',
    ...routing.queues.flatMap((q) => {
      const p = q.name[0]!.toUpperCase() + q.name.slice(1);
      const f = q.consumer[0]!.toUpperCase() + q.consumer.slice(1);
      return [`${p}QueueUrl`, `${p}DlqUrl`, `${f}FunctionName`];
    }),
    ...routing.rules.flatMap((r) => {
      const p = r.name.split('-').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
      return [`${p}RuleDlqUrl`, `${p}RuleArn`];
    }),
  ];

  it('exports every name a user or `trip --aws` needs, under stable keys', () => {
    assert.deepEqual(Object.keys(json.Outputs).sort(), [...expected].sort());
  });

  it('points each output at the right resource', () => {
    const o = json.Outputs;
    assert.deepEqual(o.EventBusName.Value, ref(busId));
    assert.deepEqual(o.EventBusArn.Value, getAtt(busId));
    assert.deepEqual(o.StateMachineArn.Value, ref(logicalId(stack, stack.stateMachine)));
    assert.deepEqual(o.EventsLogGroupName.Value, ref(logicalId(stack, stack.eventsLogGroup)));
    assert.deepEqual(o.ArchiveName.Value, ref(logicalId(stack, stack.archive)));
    assert.deepEqual(o.ArchiveArn.Value, getAtt(logicalId(stack, stack.archive)));
    assert.deepEqual(o.HotelTableName.Value, ref(logicalId(stack, stack.tables.hotel!)));
    assert.deepEqual(o.BridgeQueueUrl.Value, ref(logicalId(stack, stack.consumers.bridge!.queue)));
    assert.deepEqual(o.BridgeDlqUrl.Value, ref(logicalId(stack, stack.consumers.bridge!.deadLetterQueue)));
    assert.deepEqual(o.DashboardName.Value, ref(logicalId(stack, stack.dashboard)));
    assert.deepEqual(o.CatchAllLogRuleArn.Value, getAtt(logicalId(stack, stack.rules['catch-all-log']!)));
  });
});

describe('environment', () => {
  it('synthesizes environment-agnostic when the CLI names no account, never for a made-up one', () => {
    const saved = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION };
    delete process.env.CDK_DEFAULT_ACCOUNT;
    delete process.env.CDK_DEFAULT_REGION;
    try {
      const { stack: agnostic } = buildApp({
        appProps: { context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } },
        definitionFile: DEFINITION_FILE,
      });
      assert.ok(Token.isUnresolved(agnostic.account), agnostic.account);
      assert.ok(Token.isUnresolved(agnostic.region), agnostic.region);
      const text = JSON.stringify(Template.fromStack(agnostic).toJSON());
      assert.ok(!/\b\d{12}\b/.test(text), 'no account id is written into the template');
      assert.ok(text.includes('"Ref":"AWS::AccountId"'));
    } finally {
      if (saved.account !== undefined) process.env.CDK_DEFAULT_ACCOUNT = saved.account;
      if (saved.region !== undefined) process.env.CDK_DEFAULT_REGION = saved.region;
    }
  });
});

describe('context switches', () => {
  // Given every switch flipped at once (one synthesis keeps the suite fast)
  const flipped = synth({
    arch: 'x86_64',
    demo: 'true',
    includeExecutionData: 'true',
    eventBusName: 'trip-saga-dev',
    longExecutionSeconds: '120',
  });

  it('arch=x86_64 builds every Lambda for x86_64', () => {
    for (const [, fn] of resourcesOf(flipped.json, 'AWS::Lambda::Function')) {
      assert.deepEqual(fn.Properties.Architectures, ['x86_64']);
    }
  });

  it('demo=true turns deletion protection off and lets cdk destroy delete the data', () => {
    for (const [, table] of resourcesOf(flipped.json, 'AWS::DynamoDB::Table')) {
      assert.equal(table.Properties.DeletionProtectionEnabled, false);
      assert.equal(table.DeletionPolicy, 'Delete');
    }
    for (const [, r] of resourcesOf(flipped.json, 'AWS::Logs::LogGroup')) assert.equal(r.DeletionPolicy, 'Delete');
  });

  it('without demo, log groups are retained with the tables; queues always go with the stack', () => {
    for (const [, r] of resourcesOf(json, 'AWS::Logs::LogGroup')) assert.equal(r.DeletionPolicy, 'Retain');
    for (const sq of [json, flipped.json]) {
      for (const [, r] of resourcesOf(sq, 'AWS::SQS::Queue')) assert.equal(r.DeletionPolicy, 'Delete');
    }
  });

  it('includeExecutionData=true logs execution data', () => {
    const [, sm] = resourcesOf(flipped.json, 'AWS::StepFunctions::StateMachine')[0]!;
    assert.equal(sm.Properties.LoggingConfiguration.IncludeExecutionData, true);
  });

  it('eventBusName renames the bus and everything named after it', () => {
    flipped.template.hasResourceProperties('AWS::Events::EventBus', { Name: 'trip-saga-dev' });
    flipped.template.hasResourceProperties('AWS::Events::Archive', { ArchiveName: 'trip-saga-dev-archive' });
    flipped.template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/events/trip-saga-dev' });
    flipped.template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'trip-saga-dev' });
  });

  it('longExecutionSeconds moves the long-execution alarm threshold', () => {
    flipped.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ExecutionTime',
      Threshold: 120_000,
    });
  });

  it('rejects a switch it does not understand instead of deploying a default', () => {
    assert.throws(() => synth({ arch: 'sparc' }), /arch must be arm64 or x86_64/);
    assert.throws(() => synth({ demo: 'yes' }), /demo must be true or false/);
  });
});
