/** Adds req.privacy to Express's Request type for host apps that import consentgate. */
import type { Privacy } from "./privacy.ts";

declare global {
  namespace Express {
    interface Request {
      privacy: Privacy;
    }
  }
}

export {};
