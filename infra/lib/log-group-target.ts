import { Arn, ArnFormat, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';

/**
 * A rule target that writes events into a CloudWatch Logs group.
 *
 * Why not `targets.CloudWatchLogGroup`: it installs the log group's resource policy through a
 * custom resource (a Node.js Lambda with `logs:PutResourcePolicy` on `*`). The policy is a
 * native `AWS::Logs::ResourcePolicy` here, created by the stack itself (see
 * `grantEventBridgeWrite`), so the stack holds no helper Lambda and no wildcard grant.
 * Retries, maximum event age and the dead-letter queue are bound exactly as the built-in
 * targets bind them.
 */
export class LogGroupTarget implements events.IRuleTarget {
  constructor(
    private readonly logGroup: logs.ILogGroup,
    private readonly props: targets.TargetBaseProps,
  ) {}

  bind(rule: events.IRule, _id?: string): events.RuleTargetConfig {
    if (this.props.deadLetterQueue) {
      targets.addToDeadLetterQueueResourcePolicy(rule, this.props.deadLetterQueue);
    }
    const stack = Stack.of(this.logGroup);
    return {
      ...targets.bindBaseTargetConfig(this.props),
      // EventBridge wants the log group ARN without the trailing `:*` that GetAtt returns.
      arn: stack.formatArn({
        service: 'logs',
        resource: 'log-group',
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        resourceName: this.logGroup.logGroupName,
      }),
      targetResource: this.logGroup,
    };
  }
}

/**
 * The resource policy EventBridge needs to create streams and put events in `logGroup`.
 * Scoped to this one group; the caller makes the rule depend on it so the first events
 * after a deploy are not rejected.
 */
export function grantEventBridgeWrite(logGroup: logs.LogGroup, policyName: string, busName: string): logs.ResourcePolicy {
  const stack = Stack.of(logGroup);
  // Only rules of this bus, in this account, may write (confused deputy: "Using resource-based
  // policies for CloudWatch Logs", and EventBridge's aws:SourceArn, the ARN of the rule that
  // sends the event: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html).
  const rules = stack.formatArn({
    service: 'events',
    resource: 'rule',
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    resourceName: `${busName}/*`,
  });
  const arn = Arn.format(
    {
      service: 'logs',
      resource: 'log-group',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: `${logGroup.logGroupName}:*`,
    },
    Stack.of(logGroup),
  );
  return new logs.ResourcePolicy(logGroup, 'EventBridgeWrite', {
    resourcePolicyName: policyName,
    policyStatements: [
      new iam.PolicyStatement({
        sid: 'EventBridgeToLogGroup',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [arn],
        conditions: {
          ArnLike: { 'aws:SourceArn': rules },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    ],
  });
}
