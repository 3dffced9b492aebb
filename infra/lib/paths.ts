import * as path from 'node:path';

/** The repository root: infra/lib/ is two levels below it. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The Cargo workspace manifest every Rust Lambda is built from. */
export const CARGO_MANIFEST = path.join(REPO_ROOT, 'Cargo.toml');

/** The routing table shared with the embedded runtime (local/). */
export const ROUTING_TABLE = path.join(REPO_ROOT, 'events', 'routing.json');

/** The state-machine definition shared with the local ASL interpreter (workflow/). */
export const STATE_MACHINE_DEFINITION = path.join(REPO_ROOT, 'workflow', 'trip-saga.asl.json');
