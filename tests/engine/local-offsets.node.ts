/** tests/engine/local-offsets.ts on Node (better-sqlite3), run and checked case by case by local-offsets.test.ts. */
import { testLogger } from "../helpers/test-log.ts";
import { localOffsetsSuite } from "./local-offsets.ts";

localOffsetsSuite(testLogger("engine-local-offsets-node"));
