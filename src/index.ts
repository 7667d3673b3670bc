export { createConsentgate } from "./consentgate.ts";
export type { Consentgate } from "./consentgate.ts";
export type { ConsentgateOptions } from "./options.ts";
export type { Actor } from "./decision/ability.ts";
export type { Logger } from "./logger.ts";
export { ConsentgateError, isConsentgateError } from "./errors.ts";
export type { ErrorCode, HttpErrorCode, SetupErrorCode } from "./errors.ts";
export type { PrivacyCenterOptions } from "./privacy-center/index.ts";
