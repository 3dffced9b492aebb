import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Node } from 'constructs';

/** Deployment switches, all set with `-c key=value` (the CLI passes them as strings). */
export interface Settings {
  /** The custom bus; defaults to routing.json's `eventBusName`. Context: `eventBusName`. */
  readonly eventBusName: string;
  /** arm64 by default; context `arch=x86_64` where no aarch64 Rust target can be installed. */
  readonly architecture: lambda.Architecture;
  /** Context `demo=true`: turn deletion protection off and destroy data on `cdk destroy`. */
  readonly demo: boolean;
  /** Context `includeExecutionData=true`: log state input/output (holds traveller data). */
  readonly includeExecutionData: boolean;
  /** Alarm when p99 execution time exceeds this. Context `longExecutionSeconds`. */
  readonly longExecutionSeconds: number;
}

export function flag(value: unknown, name: string): boolean {
  if (value === undefined || value === null || value === '') return false;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new Error(`context ${name} must be true or false, got ${JSON.stringify(value)}`);
}

export function architectureOf(value: unknown): lambda.Architecture {
  if (value === undefined || value === 'arm64') return lambda.Architecture.ARM_64;
  if (value === 'x86_64') return lambda.Architecture.X86_64;
  throw new Error(`context arch must be arm64 or x86_64, got ${JSON.stringify(value)}`);
}

export function settingsFrom(node: Node, defaultBusName: string): Settings {
  const bus = node.tryGetContext('eventBusName') ?? defaultBusName;
  if (typeof bus !== 'string' || !/^[.\-_A-Za-z0-9]{1,256}$/.test(bus)) {
    throw new Error(`context eventBusName must be a valid event bus name, got ${JSON.stringify(bus)}`);
  }
  const long = Number(node.tryGetContext('longExecutionSeconds') ?? 600);
  if (!Number.isFinite(long) || long <= 0) throw new Error('context longExecutionSeconds must be a positive number');
  return {
    eventBusName: bus,
    architecture: architectureOf(node.tryGetContext('arch')),
    demo: flag(node.tryGetContext('demo'), 'demo'),
    includeExecutionData: flag(node.tryGetContext('includeExecutionData'), 'includeExecutionData'),
    longExecutionSeconds: long,
  };
}
