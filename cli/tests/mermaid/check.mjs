// Parses Mermaid diagrams with mermaid's own parser (the one mermaid.live and GitHub run).
// Usage: node check.mjs FILE...  Prints one line per file: "ok <type>" or "error <message>";
// exits 1 if any file does not parse.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

// mermaid sanitizes labels with DOMPurify, which needs a DOM.
const { window } = new JSDOM("");
globalThis.window = window;
globalThis.document = window.document;
globalThis.DOMPurify = undefined;

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

let failed = 0;
for (const file of process.argv.slice(2)) {
  const text = readFileSync(file, "utf8");
  try {
    const result = await mermaid.parse(text);
    console.log(`ok ${result.diagramType}`);
  } catch (e) {
    failed += 1;
    console.log(`error ${String(e?.message ?? e).split("\n").join(" ")}`);
  }
}
process.exit(failed ? 1 : 0);
