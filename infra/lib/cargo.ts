import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The name of the binary a workspace package builds: its single `[[bin]]` name when it
 * declares one, else the package name (cargo's rule for `src/main.rs`).
 *
 * Read from the crate's own manifest so a rename in Rust cannot silently deploy a Lambda
 * whose `cargo lambda build --bin` finds nothing. The manifests are small and flat, so a
 * line reader of `[section]` headers and `name = "..."` keys is enough.
 */
export function binaryNameOf(crateDir: string): string {
  const manifest = path.join(crateDir, 'Cargo.toml');
  const lines = fs.readFileSync(manifest, 'utf8').split(/\r?\n/);
  let section = '';
  let packageName: string | undefined;
  const bins: string[] = [];
  for (const raw of lines) {
    const line = raw.replace(/#.*$/, '').trim();
    const header = /^\[\[?([^\]]+)\]\]?$/.exec(line);
    if (header) {
      section = line.startsWith('[[') ? `[[${header[1]!.trim()}]]` : header[1]!.trim();
      continue;
    }
    const name = /^name\s*=\s*"([^"]+)"/.exec(line);
    if (!name) continue;
    if (section === 'package') packageName = name[1];
    if (section === '[[bin]]') bins.push(name[1]!);
  }
  if (bins.length === 1) return bins[0]!;
  if (bins.length > 1) throw new Error(`${manifest} declares several binaries; name the Lambda one explicitly`);
  if (!packageName) throw new Error(`${manifest} has no [package] name`);
  return packageName;
}
