import { onNode } from "../helpers/on-node.ts";
import { testLogger } from "../helpers/test-log.ts";
import { localOffsetsSuite } from "./local-offsets.ts";

localOffsetsSuite(testLogger("engine-local-offsets"));
// The same suite on Node (tests/engine/local-offsets.node.ts), checked here case by case.
onNode("LocalEngine offsets of stored and never-stored channels", "tests/engine/local-offsets.node.ts");
