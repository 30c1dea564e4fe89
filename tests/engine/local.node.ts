/**
 * The engine contract against LocalEngine on Node: bundled and run with
 * node by tests/helpers/on-node.ts, checked case by case by local.test.ts.
 */
import { testLogger } from "../helpers/test-log.ts";
import { engineContract } from "./contract.ts";
import { localHarness } from "./harnesses.ts";

engineContract("LocalEngine", localHarness(testLogger("engine-local-node")), { multiNode: false });
