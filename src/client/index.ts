export { SwitchboardClient } from "./client.ts";
export type { ClientOptions } from "./options.ts";
export type { ClientEvents, ConnectionState } from "./events.ts";
export type { ReconnectCause } from "./reconnect-policy.ts";
export { Subscription, type RecoveryFailure, type SubscribeOptions, type SubscribeResult, type SubscriptionState } from "./subscription.ts";
export { SwitchboardClientError, type ClientErrorCode, type ErrorCode, type ServerErrorCode } from "./errors.ts";
export type { Hello, Message, PresenceEvent, PresenceMember } from "./frames.ts";
export { compareOffsets } from "./offsets.ts";
export { backoffDelayMs } from "./backoff.ts";
