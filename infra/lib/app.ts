import { App, type AppProps, type Environment, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { FunctionFactory } from './functions';
import { ROUTING_TABLE, STATE_MACHINE_DEFINITION } from './paths';
import { loadRoutingTable } from './routing';
import { settingsFrom } from './settings';
import { TripSagaStack } from './trip-saga-stack';

export interface BuildOptions {
  readonly appProps?: AppProps;
  /** Defaults to workflow/trip-saga.asl.json. */
  readonly definitionFile?: string;
  /** Defaults to events/routing.json. */
  readonly routingFile?: string;
  readonly functionFactory?: FunctionFactory;
  /** Defaults to the CLI's CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION, each only if set. */
  readonly env?: Environment;
}

/** The environment the CDK CLI resolved, with only what it knows. */
export function envFromCli(): Environment {
  const env: { account?: string; region?: string } = {};
  if (process.env.CDK_DEFAULT_ACCOUNT) env.account = process.env.CDK_DEFAULT_ACCOUNT;
  if (process.env.CDK_DEFAULT_REGION) env.region = process.env.CDK_DEFAULT_REGION;
  return env;
}

/**
 * The whole app, as `cdk synth` runs it and as the tests build it: the stack plus the
 * cdk-nag AwsSolutions checks, whose unacknowledged findings fail synthesis.
 */
export function buildApp(options: BuildOptions = {}): { app: App; stack: TripSagaStack } {
  const app = new App(options.appProps);
  const routing = loadRoutingTable(options.routingFile ?? ROUTING_TABLE);
  const settings = settingsFrom(app.node, routing.eventBusName);
  const stackName = app.node.tryGetContext('stackName') ?? 'TripSaga';
  const stack = new TripSagaStack(app, stackName, {
    description: 'trip-saga: hotel/flight/car booking saga on EventBridge, SQS, Lambda and Step Functions',
    // The account and region of the CLI's credentials when it has them; otherwise an
    // environment-agnostic template (AWS::AccountId, AWS::Region), never a made-up account.
    env: options.env ?? envFromCli(),
    routing,
    settings,
    definitionFile: options.definitionFile ?? STATE_MACHINE_DEFINITION,
    ...(options.functionFactory ? { functionFactory: options.functionFactory } : {}),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
