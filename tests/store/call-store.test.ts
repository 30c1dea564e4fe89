import { setDefaultTimeout } from "bun:test";
import { onNode } from "../helpers/on-node.ts";
import { CALL_STORE_SUITES, callStoreSuite } from "./call-store-suite.ts";

setDefaultTimeout(60_000);
// Call records on both stores on Bun…
callStoreSuite();
// …and the same suite on Node (tests/store/call-store.node.ts), checked here case by case.
onNode(CALL_STORE_SUITES, "tests/store/call-store.node.ts");
