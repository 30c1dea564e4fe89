import type { ReportTemplate } from "./report-template.ts";
import { channelHistory } from "./templates/channel-history.ts";
import { conversationTranscript } from "./templates/conversation-transcript.ts";
import { custom } from "./templates/custom.ts";
import { immunizationCompliance } from "./templates/immunization-compliance.ts";
import { incident } from "./templates/incident.ts";
import { medicationLog } from "./templates/medication-log.ts";
import { studentHealthSummary } from "./templates/student-health-summary.ts";

/** Templates a backend renders with `POST /v1/reports/<name>` and a JSON body. */
export const POSTED_TEMPLATES: ReadonlyMap<string, ReportTemplate> = new Map([studentHealthSummary, medicationLog, immunizationCompliance, incident, custom].map((t) => [t.name, t]));

/** Every template a worker can render, including those built from the engine and the record store. */
export const ALL_TEMPLATES: ReadonlyMap<string, ReportTemplate> = new Map([...POSTED_TEMPLATES, [channelHistory.name, channelHistory], [conversationTranscript.name, conversationTranscript]]);
