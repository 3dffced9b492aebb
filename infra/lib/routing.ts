import * as fs from 'node:fs';

/** An EventBridge event pattern exactly as written in routing.json (may use `$or`). */
export type EventPatternJson = { [key: string]: unknown };

export interface QueueRoute {
  readonly name: string;
  /** The Lambda (workspace service) that drains this queue. */
  readonly consumer: string;
  readonly description: string;
  readonly visibilityTimeoutSeconds: number;
  readonly maxReceiveCount: number;
  readonly batchSize: number;
}

export interface RuleRoute {
  readonly name: string;
  readonly description: string;
  readonly eventPattern: EventPatternJson;
  readonly target: { readonly kind: 'queue' | 'log'; readonly name: string };
}

export interface RoutingTable {
  readonly eventBusName: string;
  readonly queues: readonly QueueRoute[];
  readonly rules: readonly RuleRoute[];
}

/**
 * Reads the routing table and refuses one the stack could not deploy faithfully,
 * so a typo fails `cdk synth` instead of producing a rule that routes nowhere.
 */
export function loadRoutingTable(file: string): RoutingTable {
  const table = JSON.parse(fs.readFileSync(file, 'utf8')) as RoutingTable;
  const problems: string[] = [];
  if (typeof table.eventBusName !== 'string' || table.eventBusName.length === 0) {
    problems.push('eventBusName must be a non-empty string');
  }
  if (!Array.isArray(table.queues) || !Array.isArray(table.rules)) {
    throw new Error(`${file}: expected "queues" and "rules" arrays`);
  }
  const queueNames = new Set<string>();
  for (const q of table.queues) {
    if (queueNames.has(q.name)) problems.push(`queue ${q.name} is declared twice`);
    queueNames.add(q.name);
    for (const key of ['visibilityTimeoutSeconds', 'maxReceiveCount', 'batchSize'] as const) {
      if (!Number.isInteger(q[key]) || q[key] <= 0) problems.push(`queue ${q.name}: ${key} must be a positive integer`);
    }
    if (typeof q.consumer !== 'string' || q.consumer.length === 0) problems.push(`queue ${q.name}: consumer missing`);
  }
  const ruleNames = new Set<string>();
  for (const r of table.rules) {
    if (ruleNames.has(r.name)) problems.push(`rule ${r.name} is declared twice`);
    ruleNames.add(r.name);
    if (!/^[.\-_A-Za-z0-9]{1,64}$/.test(r.name)) problems.push(`rule ${r.name}: not a valid EventBridge rule name`);
    if (typeof r.eventPattern !== 'object' || r.eventPattern === null || Object.keys(r.eventPattern).length === 0) {
      problems.push(`rule ${r.name}: eventPattern must be a non-empty object`);
    }
    if (r.target?.kind === 'queue') {
      if (!queueNames.has(r.target.name)) problems.push(`rule ${r.name}: unknown queue ${r.target.name}`);
    } else if (r.target?.kind !== 'log') {
      problems.push(`rule ${r.name}: target kind must be "queue" or "log"`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`${file} is not a routing table this stack can deploy:\n  - ${problems.join('\n  - ')}`);
  }
  return table;
}
