import type { Duration } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { RustFunction } from 'cargo-lambda-cdk';
import type { Construct } from 'constructs';

/** What the stack decides about a Lambda; how its code is built is the factory's business. */
export interface SagaFunctionProps {
  /** The workspace binary, `cargo lambda build --bin <binaryName>`. */
  readonly binaryName: string;
  /** The workspace Cargo.toml. */
  readonly manifestPath: string;
  readonly architecture: lambda.Architecture;
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  readonly environment: Record<string, string>;
  readonly role: iam.IRole;
  readonly logGroup: logs.ILogGroup;
}

export type FunctionFactory = (scope: Construct, id: string, props: SagaFunctionProps) => lambda.Function;

/** Settings every saga Lambda shares, whatever builds its code. */
export function commonFunctionOptions(props: SagaFunctionProps) {
  return {
    description: props.description,
    architecture: props.architecture,
    timeout: props.timeout,
    memorySize: props.memorySize,
    environment: props.environment,
    role: props.role,
    logGroup: props.logGroup,
    // JSON logs: lambda_runtime's tracing subscriber reads AWS_LAMBDA_LOG_FORMAT/LEVEL.
    loggingFormat: lambda.LoggingFormat.JSON,
    applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
    // INFO keeps the platform's REPORT lines (duration, billed duration, memory, init).
    systemLogLevelV2: lambda.SystemLogLevel.INFO,
    tracing: lambda.Tracing.ACTIVE,
  };
}

/**
 * The real thing: cargo-lambda-cdk builds the binary with `cargo lambda build` at synth
 * (provided.al2023, the architecture chosen by context). When the stack is in no
 * `aws:cdk:bundling-stacks` entry, CDK skips the build and only fingerprints the asset.
 */
export const rustFunctionFactory: FunctionFactory = (scope, id, props) =>
  new RustFunction(scope, id, {
    ...commonFunctionOptions(props),
    manifestPath: props.manifestPath,
    binaryName: props.binaryName,
    runtime: 'provided.al2023',
    // Cargo.toml's `lambda` profile: release, optimized for size.
    bundling: { profile: 'lambda' },
  });
