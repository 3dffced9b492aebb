import * as fs from 'node:fs';
import * as path from 'node:path';
import { Arn, ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct, IConstruct } from 'constructs';
import { binaryNameOf } from './cargo';
import { type FunctionFactory, rustFunctionFactory } from './functions';
import { grantEventBridgeWrite, LogGroupTarget } from './log-group-target';
import { REPO_ROOT } from './paths';
import type { EventPatternJson, QueueRoute, RoutingTable } from './routing';
import type { Settings } from './settings';

/** Every Lambda gets this much time per batch; queues hide a message for at least 6x as long. */
export const FUNCTION_TIMEOUT = Duration.seconds(10);
export const FUNCTION_MEMORY_MB = 256;
/** AWS's guidance for SQS-triggered Lambdas: visibility timeout >= 6 x function timeout. */
export const VISIBILITY_TO_TIMEOUT_RATIO = 6;
/**
 * Rule delivery to a queue or log group fails only while that target is unavailable or
 * misconfigured. Retry for an hour, then park the event in the rule's own DLQ: the saga's
 * waits time out long before that, so a later delivery could only be compensated anyway.
 */
export const TARGET_RETRY_ATTEMPTS = 20;
export const TARGET_MAX_EVENT_AGE = Duration.hours(1);
export const ARCHIVE_RETENTION = Duration.days(30);
export const LOG_RETENTION = logs.RetentionDays.ONE_MONTH;
/** The EMF namespace the Rust handlers write to (services/booking/src/metrics.rs). */
export const METRICS_NAMESPACE = 'TripSaga';
export const EMF_METRICS = ['BookingsSucceeded', 'BookingsFailed', 'Compensations', 'StaleCallbacks'] as const;
/**
 * What a booking service does to its own table, and nothing more
 * (services/booking/src/adapters/dynamodb.rs): GetItem, conditional PutItem and UpdateItem,
 * and TransactWriteItems of Puts and Updates, which IAM authorizes per item against PutItem
 * and UpdateItem ("Using IAM with DynamoDB transactions", Amazon DynamoDB Developer Guide:
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
 * No delete, no batch, no query or scan, no streams, no table management.
 */
export const SERVICE_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;

/**
 * The only source each identity may put on the bus: every PutEvents grant carries an
 * `events:source` condition ("Using IAM policy conditions in Amazon EventBridge":
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html), so no
 * function can forge another's events (a TripBooked from the bridge, a HotelBookingRequested
 * from a service) and only the workflow speaks as `trip.saga`. Clients put `trip.client`
 * (infra/README.md, "Who may put what").
 */
export const PUT_EVENTS_SOURCE: Record<string, string> = {
  hotel: 'trip.hotel',
  flight: 'trip.flight',
  car: 'trip.car',
  bridge: 'trip.bridge',
};
export const STATE_MACHINE_SOURCE = 'trip.saga';
/** The Fail state a compensation that never succeeds ends in (workflow/trip-saga.asl.json). */
export const STUCK_FAIL_STATE = 'TripCompensationStuck';

/** The consumers a routing table may name, and what each one is. */
const BOOKING_SERVICES = ['hotel', 'flight', 'car'] as const;
const BRIDGE = 'bridge';

export interface TripSagaStackProps extends StackProps {
  readonly routing: RoutingTable;
  /** The ASL file; the app passes workflow/trip-saga.asl.json. */
  readonly definitionFile: string;
  readonly settings: Settings;
  /** How a Lambda is built; defaults to cargo-lambda-cdk's RustFunction. */
  readonly functionFactory?: FunctionFactory;
}

/** A service's queue, its dead-letter queue, and the Lambda draining it. */
export interface Consumer {
  readonly route: QueueRoute;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly fn: lambda.Function;
}

const pascal = (s: string): string =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

export class TripSagaStack extends Stack {
  readonly bus: events.EventBus;
  readonly archive: events.Archive;
  readonly tables: Record<string, dynamodb.Table> = {};
  readonly consumers: Record<string, Consumer> = {};
  readonly rules: Record<string, events.Rule> = {};
  readonly ruleDeadLetterQueues: Record<string, sqs.Queue> = {};
  readonly eventsLogGroup: logs.LogGroup;
  readonly stateMachineLogGroup: logs.LogGroup;
  readonly stateMachine: sfn.StateMachine;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: TripSagaStackProps) {
    super(scope, id, props);
    const { routing, settings } = props;
    const makeFunction = props.functionFactory ?? rustFunctionFactory;
    // Deletion protection and RETAIN go together: a protected table (and the logs that
    // explain its contents) must also survive `cdk destroy`. `-c demo=true` turns both off
    // for throwaway stacks. Queues hold only in-flight messages and always go with the stack.
    const removalPolicy = settings.demo ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const busName = settings.eventBusName;

    this.checkConsumers(routing);

    // ---- Event bus and archive -------------------------------------------------------
    this.bus = new events.EventBus(this, 'EventBus', { eventBusName: busName });
    // Task tokens are secrets: whoever holds one can answer the workflow. The archive keeps
    // every trip.* event that carries none (requests and outcomes, which is what a replay
    // needs: a replayed request never restarts or changes a saga that exists); commands and
    // the services' answers, which echo the token, stay out.
    this.archive = new events.Archive(this, 'Archive', {
      sourceEventBus: this.bus,
      archiveName: `${busName}-archive`.slice(0, 48),
      description: `Every trip.* event on ${busName} that carries no task token, kept for replays`,
      eventPattern: {
        source: events.Match.prefix('trip.'),
        detail: { metadata: { taskToken: events.Match.doesNotExist() } },
      },
      retention: ARCHIVE_RETENTION,
    });
    // The L2 synthesizes KmsKeyIdentifier: "" (AWS owned key), which some regions refuse with
    // GeneralServiceException (aws-cdk issue 37847). Absent means the same key.
    (this.archive.node.defaultChild as events.CfnArchive).addPropertyDeletionOverride('KmsKeyIdentifier');

    // ---- Tables: one per booking service -----------------------------------------------
    for (const service of BOOKING_SERVICES) {
      this.tables[service] = new dynamodb.Table(this, `${pascal(service)}Table`, {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        deletionProtection: !settings.demo,
        removalPolicy,
      });
    }

    // ---- State machine -----------------------------------------------------------------
    const stateMachineLogs = (this.stateMachineLogGroup = new logs.LogGroup(this, 'StateMachineLogGroup', {
      // The /aws/vendedlogs/ prefix keeps the account's log resource policy small.
      logGroupName: `/aws/vendedlogs/states/${busName}`,
      retention: LOG_RETENTION,
      removalPolicy,
    }));
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(props.definitionFile),
      definitionSubstitutions: { EventBusName: this.bus.eventBusName },
      logs: {
        destination: stateMachineLogs,
        level: sfn.LogLevel.ALL,
        includeExecutionData: settings.includeExecutionData,
      },
      tracingEnabled: true,
    });
    // The workflow's only side effect is putEvents(.waitForTaskToken) on this bus, as trip.saga.
    this.grantPutEventsAs(this.stateMachine, STATE_MACHINE_SOURCE);
    const stateMachinePolicy = this.stateMachine.role.node.tryFindChild('DefaultPolicy');
    if (stateMachinePolicy) {
      ack(stateMachinePolicy, 'AwsSolutions-IAM5[Resource::*]',
        'Step Functions log delivery (logs:CreateLogDelivery, logs:DescribeResourcePolicies, ...) and X-Ray ' +
        '(xray:PutTraceSegments, xray:GetSamplingRules, ...) support no resource-level permissions; ' +
        'AWS documents "*" as the only valid resource for these actions.');
    }

    // ---- Queues and Lambdas ---------------------------------------------------------
    for (const route of routing.queues) {
      this.consumers[route.name] = this.consumer(route, makeFunction, settings, removalPolicy);
    }

    // ---- Events log group (the catch-all rule's target) -----------------------------
    this.eventsLogGroup = new logs.LogGroup(this, 'EventsLogGroup', {
      // /aws/events/ is where EventBridge (and its console) keeps event log groups.
      logGroupName: `/aws/events/${busName}`,
      retention: LOG_RETENTION,
      removalPolicy,
      // Task tokens (whoever reads one could answer the workflow) and travellers' e-mail
      // addresses are masked as they arrive; reading them unmasked takes logs:Unmask
      // ("Help protect sensitive log data with masking", Amazon CloudWatch Logs User Guide:
      // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/mask-sensitive-log-data.html).
      dataProtectionPolicy: new logs.DataProtectionPolicy({
        name: `${busName}-events-data-protection`,
        description: 'Mask task tokens and e-mail addresses in the saga event log',
        identifiers: [logs.DataIdentifier.EMAILADDRESS, TASK_TOKEN_IDENTIFIER],
      }),
    });
    const eventsLogPolicy = grantEventBridgeWrite(this.eventsLogGroup, `${busName}-events-to-logs`, busName);

    // ---- Rules: the routing table, verbatim ----------------------------------------
    for (const route of routing.rules) {
      const id = pascal(route.name);
      const ruleDlq = this.deadLetterQueue(`${id}RuleDeadLetterQueue`);
      // EventBridge's target DLQ is a plain queue that EventBridge sends to; nothing
      // redrives out of it, and giving it a DLQ of its own would only move the problem.
      ack(ruleDlq, 'AwsSolutions-SQS3',
        'This queue is the dead-letter queue of an EventBridge rule target; it has an alarm on its depth ' +
        'and no dead-letter queue of its own by design.');
      this.ruleDeadLetterQueues[route.name] = ruleDlq;
      const targetProps: targets.TargetBaseProps = {
        deadLetterQueue: ruleDlq,
        retryAttempts: TARGET_RETRY_ATTEMPTS,
        maxEventAge: TARGET_MAX_EVENT_AGE,
      };
      const target: events.IRuleTarget =
        route.target.kind === 'queue'
          ? new targets.SqsQueue(this.consumers[route.target.name]!.queue, targetProps)
          : new LogGroupTarget(this.eventsLogGroup, targetProps);
      const rule = new events.Rule(this, `${id}Rule`, {
        ruleName: route.name,
        description: route.description,
        eventBus: this.bus,
        eventPattern: l2Placeholder(route.eventPattern),
        targets: [target],
      });
      pinEventPattern(rule, route.eventPattern);
      if (route.target.kind === 'log') rule.node.addDependency(eventsLogPolicy);
      this.rules[route.name] = rule;
    }

    // ---- Observability -------------------------------------------------------------
    this.dashboard = this.buildDashboard(busName);
    this.buildAlarms(settings, businessFailStates(props.definitionFile));

    // ---- Outputs: what `trip --aws` and a person at a terminal need ------------------
    const out = (key: string, value: string, description: string) =>
      new CfnOutput(this, key, { value, description });
    out('EventBusName', this.bus.eventBusName, 'put-events --entries ... EventBusName');
    out('EventBusArn', this.bus.eventBusArn, 'Replay destination');
    out('StateMachineArn', this.stateMachine.stateMachineArn, 'The saga workflow');
    out('StateMachineLogGroupName', stateMachineLogs.logGroupName, 'Execution history logs');
    out('EventsLogGroupName', this.eventsLogGroup.logGroupName, 'aws logs tail <this> --follow');
    out('ArchiveName', this.archive.archiveName, 'EventBridge archive of trip.* events');
    out('ArchiveArn', this.archive.archiveArn, 'start-replay --event-source-arn');
    out('DashboardName', this.dashboard.dashboardName, 'CloudWatch dashboard');
    for (const service of BOOKING_SERVICES) {
      out(`${pascal(service)}TableName`, this.tables[service]!.tableName, `DynamoDB table of the ${service} service`);
    }
    for (const [name, c] of Object.entries(this.consumers)) {
      out(`${pascal(name)}QueueUrl`, c.queue.queueUrl, `Queue feeding the ${c.route.consumer} Lambda`);
      out(`${pascal(name)}DlqUrl`, c.deadLetterQueue.queueUrl, `Dead-letter queue of ${name}`);
      out(`${pascal(c.route.consumer)}FunctionName`, c.fn.functionName, `The ${c.route.consumer} Lambda`);
    }
    for (const [name, q] of Object.entries(this.ruleDeadLetterQueues)) {
      out(`${pascal(name)}RuleDlqUrl`, q.queueUrl, `Events rule ${name} could not deliver`);
      out(`${pascal(name)}RuleArn`, this.rules[name]!.ruleArn, `Events rule ${name} (start-replay FilterArns)`);
    }
  }

  /** PutEvents on this bus, for events of one source only. */
  private grantPutEventsAs(grantee: iam.IGrantable, source: string): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['events:PutEvents'],
        resources: [this.bus.eventBusArn],
        conditions: { StringEquals: { 'events:source': source } },
      }),
    );
  }

  /** The routing table may only name consumers this stack knows how to build. */
  private checkConsumers(routing: RoutingTable): void {
    const known = new Set<string>([...BOOKING_SERVICES, BRIDGE]);
    const seen = new Set<string>();
    for (const q of routing.queues) {
      if (!known.has(q.consumer)) throw new Error(`routing.json: queue ${q.name} names unknown consumer ${q.consumer}`);
      if (seen.has(q.consumer)) throw new Error(`routing.json: consumer ${q.consumer} drains two queues`);
      seen.add(q.consumer);
      const minimum = FUNCTION_TIMEOUT.toSeconds() * VISIBILITY_TO_TIMEOUT_RATIO;
      if (q.visibilityTimeoutSeconds < minimum) {
        throw new Error(
          `routing.json: queue ${q.name} visibilityTimeoutSeconds ${q.visibilityTimeoutSeconds} < ${minimum} ` +
            `(${VISIBILITY_TO_TIMEOUT_RATIO} x the ${FUNCTION_TIMEOUT.toSeconds()} s function timeout)`,
        );
      }
    }
    for (const c of known) {
      if (!seen.has(c)) throw new Error(`routing.json: no queue feeds the ${c} Lambda`);
    }
  }

  private deadLetterQueue(id: string): sqs.Queue {
    return new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS allows: time to look at a failure before it is gone.
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  private consumer(
    route: QueueRoute,
    makeFunction: FunctionFactory,
    settings: Settings,
    removalPolicy: RemovalPolicy,
  ): Consumer {
    const id = pascal(route.name);
    const deadLetterQueue = this.deadLetterQueue(`${id}DeadLetterQueue`);
    // SSE-SQS rather than a customer key: EventBridge can send to it with no key policy.
    const queue = new sqs.Queue(this, `${id}Queue`, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(route.visibilityTimeoutSeconds),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: route.maxReceiveCount },
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const fnId = pascal(route.consumer);
    const logGroup = new logs.LogGroup(this, `${fnId}FunctionLogGroup`, {
      retention: LOG_RETENTION,
      removalPolicy,
    });
    // An explicit role: the default one carries the AWSLambdaBasicExecutionRole managed
    // policy (logs on every group in the account); this one writes to its own group only.
    const role = new iam.Role(this, `${fnId}FunctionRole`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the ${route.consumer} Lambda of the trip saga`,
    });
    logGroup.grant(role, 'logs:CreateLogStream', 'logs:PutLogEvents');

    // MAX_RECEIVE_COUNT: a service answers a transient failure on a record's last delivery
    // (Trip.TransientError, retried by the workflow) instead of letting it dead-letter.
    const environment: Record<string, string> = {
      EVENT_BUS_NAME: this.bus.eventBusName,
      MAX_RECEIVE_COUNT: String(route.maxReceiveCount),
    };
    const table = this.tables[route.consumer];
    if (table) environment.TABLE_NAME = table.tableName;
    if (route.consumer === BRIDGE) environment.STATE_MACHINE_ARN = this.stateMachine.stateMachineArn;

    const fn = makeFunction(this, `${fnId}Function`, {
      binaryName: binaryNameOf(path.join(REPO_ROOT, 'services', route.consumer)),
      // The function's own manifest (a workspace member): `cargo lambda build --bin` at the
      // workspace root only sees its default members.
      manifestPath: path.join(REPO_ROOT, 'services', route.consumer, 'Cargo.toml'),
      architecture: settings.architecture,
      description: route.description,
      timeout: FUNCTION_TIMEOUT,
      memorySize: FUNCTION_MEMORY_MB,
      environment,
      role,
      logGroup,
    });
    fn.addEventSource(
      new SqsEventSource(queue, {
        batchSize: route.batchSize,
        // The handlers answer with batchItemFailures: only the failed records come back.
        reportBatchItemFailures: true,
      }),
    );

    // Least privilege: own table, this bus; the bridge alone drives the workflow.
    table?.grant(fn, ...SERVICE_TABLE_ACTIONS);
    this.grantPutEventsAs(fn, PUT_EVENTS_SOURCE[route.consumer]!);
    if (route.consumer === BRIDGE) {
      this.stateMachine.grantStartExecution(fn);
      // A request for a trip whose saga exists is answered from the execution's status,
      // input, output and cause (services/booking/src/requests.rs).
      // Executions are named after their trips, so the grant names this state machine's
      // executions, not one of them.
      const executions = `arn:${this.partition}:states:${this.region}:${this.account}:execution:${
        Arn.split(this.stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName
      }:*`;
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] }),
      );
      ack(role.node.findChild('DefaultPolicy'), `AwsSolutions-IAM5[Resource::${nagFlatten(this.resolve(executions))}]`,
        'states:DescribeExecution on the executions of this one state machine: an execution is named after its ' +
        'trip, so no single execution ARN can be known in advance.');
      // Scoped to this state machine: Step Functions authorizes callbacks against the ARN of
      // the state machine that issued the token.
      this.stateMachine.grantTaskResponse(fn);
    }
    ack(role.node.findChild('DefaultPolicy'), 'AwsSolutions-IAM5[Resource::*]',
      'X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) supports no resource-level ' +
      'permissions; "*" is the only valid resource. Every other statement names its resource.');

    return { route, queue, deadLetterQueue, fn };
  }

  private buildDashboard(busName: string): cloudwatch.Dashboard {
    const sm = this.stateMachine;
    const fiveMinutes = Duration.minutes(5);
    const emf = (metricName: string, label: string) =>
      // A schema-less SEARCH matches every dimension set the handlers emit ([Service],
      // [Service, Reason], ...): one line per service (and reason).
      new cloudwatch.MathExpression({
        expression: `SEARCH('Namespace="${METRICS_NAMESPACE}" MetricName="${metricName}"', 'Sum', 300)`,
        label,
        period: fiveMinutes,
      });
    const consumers = Object.values(this.consumers);
    const dlqs: [string, sqs.Queue][] = [
      ...consumers.map((c): [string, sqs.Queue] => [`${c.route.name} DLQ`, c.deadLetterQueue]),
      ...Object.entries(this.ruleDeadLetterQueues).map(([n, q]): [string, sqs.Queue] => [`rule ${n} DLQ`, q]),
    ];
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: busName,
      defaultInterval: Duration.hours(3),
    });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Sagas (executions)',
        width: 12,
        left: [
          sm.metricStarted({ period: fiveMinutes, label: 'Started' }),
          sm.metricSucceeded({ period: fiveMinutes, label: 'Succeeded' }),
          sm.metricFailed({ period: fiveMinutes, label: 'Failed' }),
          sm.metricTimedOut({ period: fiveMinutes, label: 'Timed out' }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Execution time',
        width: 12,
        left: [
          sm.metricTime({ statistic: 'p50', period: fiveMinutes, label: 'p50' }),
          sm.metricTime({ statistic: 'p99', period: fiveMinutes, label: 'p99' }),
        ],
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Bookings and compensations (TripSaga EMF)',
        width: 12,
        left: [
          emf('BookingsSucceeded', 'Bookings succeeded'),
          emf('BookingsFailed', 'Bookings failed'),
          emf('Compensations', 'Compensations'),
          emf('StaleCallbacks', 'Stale callbacks'),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Handler duration (TripSaga EMF, p99)',
        width: 12,
        left: [
          new cloudwatch.MathExpression({
            expression: `SEARCH('Namespace="${METRICS_NAMESPACE}" MetricName="HandlerDuration"', 'p99', 300)`,
            label: 'HandlerDuration p99',
            period: fiveMinutes,
          }),
        ],
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queue depth',
        width: 24,
        left: dlqs.map(([label, q]) =>
          q.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum', label }),
        ),
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Lambda errors',
        width: 12,
        left: consumers.map((c) => c.fn.metricErrors({ period: fiveMinutes, label: c.route.consumer })),
      }),
      new cloudwatch.GraphWidget({
        title: 'Lambda duration (p99)',
        width: 12,
        left: consumers.map((c) =>
          c.fn.metricDuration({ period: fiveMinutes, statistic: 'p99', label: c.route.consumer }),
        ),
      }),
    );
    return dashboard;
  }

  private buildAlarms(settings: Settings, businessFailStates: string[]): void {
    const dlqs: [string, sqs.Queue][] = [
      ...Object.values(this.consumers).map((c): [string, sqs.Queue] => [`${pascal(c.route.name)}Dlq`, c.deadLetterQueue]),
      ...Object.entries(this.ruleDeadLetterQueues).map(([n, q]): [string, sqs.Queue] => [`${pascal(n)}RuleDlq`, q]),
    ];
    for (const [id, q] of dlqs) {
      this.alarms.push(
        q.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }).createAlarm(
          this,
          `${id}NotEmptyAlarm`,
          {
            alarmDescription: `A message reached ${id}: something failed past all retries. Inspect, fix, redrive.`,
            threshold: 0,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluationPeriods: 1,
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          },
        ),
      );
    }
    const sm = this.stateMachine;
    // A compensated trip fails its execution by design, in a Fail state of the definition
    // (TripBookingFailed). Count those from the execution log: the entered state's name is
    // logged whatever includeExecutionData says (the error and cause may not be). Failures
    // other than those — a broken definition, a runtime error — page someone; compensations
    // do not, and stay on the dashboard.
    const period = Duration.minutes(5);
    const failed = sm.metricFailed({ period, statistic: 'Sum' });
    const usingMetrics: Record<string, cloudwatch.IMetric> = { failed };
    let expression = 'FILL(failed, 0)';
    if (businessFailStates.length > 0) {
      const compensated = new logs.MetricFilter(this, 'CompensatedExecutionsFilter', {
        logGroup: this.stateMachineLogGroup,
        metricNamespace: METRICS_NAMESPACE,
        metricName: 'CompensatedExecutions',
        filterPattern: logs.FilterPattern.all(
          logs.FilterPattern.stringValue('$.type', '=', 'FailStateEntered'),
          logs.FilterPattern.any(
            ...businessFailStates.map((name) => logs.FilterPattern.stringValue('$.details.name', '=', name)),
          ),
        ),
        metricValue: '1',
        defaultValue: 0,
      });
      usingMetrics.compensated = compensated.metric({ period, statistic: 'Sum' });
      expression = 'FILL(failed, 0) - FILL(compensated, 0)';
    }
    const unexpectedFailures = new cloudwatch.MathExpression({
      label: 'Executions failed other than by compensating',
      expression,
      usingMetrics,
      period,
    });
    this.alarms.push(
      unexpectedFailures.createAlarm(this, 'UnexpectedExecutionFailuresAlarm', {
        alarmDescription:
          'A saga execution failed other than by compensating a trip' +
          (businessFailStates.length > 0 ? ` (those end in ${businessFailStates.join(', ')})` : '') +
          ': a broken workflow or a runtime error. Read its history.',
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new logs.MetricFilter(this, 'CompensationStuckFilter', {
        logGroup: this.stateMachineLogGroup,
        metricNamespace: METRICS_NAMESPACE,
        metricName: 'CompensationsStuck',
        filterPattern: logs.FilterPattern.all(
          logs.FilterPattern.stringValue('$.type', '=', 'FailStateEntered'),
          logs.FilterPattern.stringValue('$.details.name', '=', STUCK_FAIL_STATE),
        ),
        metricValue: '1',
        defaultValue: 0,
      })
        .metric({ period, statistic: 'Sum' })
        .createAlarm(this, 'CompensationStuckAlarm', {
          alarmDescription:
            `A compensation failed through all its retries: the saga ended in ${STUCK_FAIL_STATE} and its ` +
            'TripCompensationStuck event names the bookings that may still be held. Release them by hand ' +
            '(trip --aws status <tripId>, trip --aws dlq list).',
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      sm.metricTimedOut({ period: Duration.minutes(5), statistic: 'Sum' }).createAlarm(this, 'ExecutionsTimedOutAlarm', {
        alarmDescription: 'A saga execution hit its overall timeout.',
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      sm.metricTime({ period: Duration.minutes(5), statistic: 'p99' }).createAlarm(this, 'LongExecutionsAlarm', {
        alarmDescription: `p99 saga execution time above ${settings.longExecutionSeconds} s: services answer slowly or waits time out.`,
        threshold: settings.longExecutionSeconds * 1000,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}

/**
 * The Fail states of the definition where a trip that could not be booked ends, compensated
 * (every Fail state but the stuck compensation's, which has its own alarm).
 */
export function businessFailStates(definitionFile: string): string[] {
  const definition = JSON.parse(fs.readFileSync(definitionFile, 'utf8')) as {
    States: Record<string, { Type: string }>;
  };
  const names = Object.entries(definition.States)
    .filter(([name, state]) => state.Type === 'Fail' && name !== STUCK_FAIL_STATE)
    .map(([name]) => name);
  return names;
}

/**
 * Step Functions task tokens as they appear in an event's JSON: the `taskToken` member and its
 * value (a custom data identifier of a CloudWatch Logs data protection policy; regular
 * expressions up to 200 characters).
 */
export const TASK_TOKEN_IDENTIFIER = new logs.CustomDataIdentifier('TaskToken', '"taskToken"\\s*:\\s*"[^"]+"');

/**
 * A resolved CloudFormation value as cdk-nag names it in a finding (Fn::Join joined, Ref and
 * GetAtt as <...>, anything else as JSON), so a finding on a token can be acknowledged.
 */
function nagFlatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const n = node as Record<string, any>;
  if (n['Fn::Join']) return (n['Fn::Join'][1] as unknown[]).map(nagFlatten).join(n['Fn::Join'][0]);
  if (n['Fn::Sub']) return nagFlatten(n['Fn::Sub']);
  if (n['Fn::GetAtt']) return `<${nagFlatten(n['Fn::GetAtt'][0])}.${nagFlatten(n['Fn::GetAtt'][1])}>`;
  if (n['Fn::ImportValue']) return nagFlatten(n['Fn::ImportValue']);
  if (n.Ref) return `<${nagFlatten(n.Ref)}>`;
  return JSON.stringify(node);
}

/** Acknowledge one cdk-nag finding on one construct, with the reason kept next to the code. */
function ack(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * The L2 `EventPattern` type cannot spell `$or`, so the rule is created with the pattern as
 * an opaque value (it satisfies the L2's "has a pattern" validation) and the CloudFormation
 * property is then pinned to the routing table's JSON, untouched.
 */
function l2Placeholder(pattern: EventPatternJson): events.EventPattern {
  return structuredClone(pattern) as events.EventPattern;
}

function pinEventPattern(rule: events.Rule, pattern: EventPatternJson): void {
  (rule.node.defaultChild as events.CfnRule).eventPattern = structuredClone(pattern);
}
