/**
 * What every part of a running gate shares: the compiled policy, the open
 * store, the consent cache, the keyring and the host's option functions.
 * Built once by createConsentgate; the middleware, router and jobs read it.
 */
import type { Request } from "express";
import type { BlockedWrites } from "./audit/blocked-writes.ts";
import type { ComplianceLog } from "./audit/events.ts";
import type { Logger } from "./logger.ts";
import type { Minimizer } from "./minimize/index.ts";
import type { Actor } from "./options.ts";
import type { Policy } from "./policy/types.ts";
import type { DataSources } from "./rights/data-sources.ts";
import type { Keyring } from "./signatures/hmac.ts";
import type { ComplianceLogStore } from "./store/compliance-log.ts";
import type { ConsentCache } from "./store/consent-cache.ts";
import type { Connection } from "./store/connection.ts";
import type { InteractionStore } from "./store/interactions.ts";
import type { Requests } from "./store/requests.ts";

export interface Core {
  readonly policy: Policy;
  readonly connection: Connection;
  readonly consents: ConsentCache;
  readonly interactions: InteractionStore;
  readonly keyring: Keyring;
  /** One compiled minimizer per purpose. */
  readonly minimizers: ReadonlyMap<string, Minimizer>;
  readonly blockedWrites: BlockedWrites;
  readonly requests: Requests;
  /** The host app's tables that join export and erasure. */
  readonly dataSources: DataSources;
  readonly audit: ComplianceLog;
  /** The log's tables, for the queries jobs and reports make (audit owns what entries mean). */
  readonly logStore: ComplianceLogStore;
  readonly logger: Logger;
  readonly now: () => Date;
  readonly subjectOf: (req: Request) => string | undefined;
  readonly actorOf: (req: Request) => Actor | undefined;
  readonly regionOf: ((req: Request) => string | undefined) | undefined;
}
