/**
 * The engine contract against RedisEngine on Node, on the redis-server that
 * redis.test.ts started (SB_TEST_REDIS_URL): bundled and run with node by
 * tests/helpers/on-node.ts, checked case by case by redis.test.ts.
 */
import { testLogger } from "../helpers/test-log.ts";
import { engineContract } from "./contract.ts";
import { redisHarness } from "./harnesses.ts";

const url = process.env.SB_TEST_REDIS_URL;
if (!url) throw new Error("SB_TEST_REDIS_URL is not set (redis.test.ts sets it)");
engineContract("RedisEngine", redisHarness(() => url, testLogger("engine-redis-node")), { multiNode: true });
