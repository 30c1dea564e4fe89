export { SwitchboardClient, type ClientEvents, type ClientOptions, type ConnectionState, type ReconnectCause } from "./client.ts";
export { Subscription, type RecoveryFailure, type SubscribeOptions, type SubscribeResult, type SubscriptionState } from "./subscription.ts";
export { SwitchboardClientError, type ClientErrorCode, type ErrorCode, type ServerErrorCode } from "./errors.ts";
export type { Hello, Message, PresenceEvent, PresenceMember } from "./frames.ts";
export { compareOffsets } from "./offsets.ts";
export { backoffDelayMs } from "./backoff.ts";
