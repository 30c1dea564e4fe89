import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalEngine } from "../../src/engine/local/local-engine.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { engineContract, type EngineNode } from "./contract.ts";
import { RecordingSink } from "./recording-sink.ts";

const logger = createLogger("error", {}, (line) => process.stderr.write(line));

engineContract("LocalEngine", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "sb-local-engine-"));
  const nodes: EngineNode[] = [];
  return {
    async node() {
      const sink = new RecordingSink();
      const engine = new LocalEngine({ dataDir, nodeId: "n1", logger });
      await engine.start(sink);
      const n = { engine, sink };
      nodes.push(n);
      return n;
    },
    async cleanup() {
      await Promise.all(nodes.map((n) => n.engine.stop()));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
