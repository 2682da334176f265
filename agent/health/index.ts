export { HealthEngine, type HealthEngineOptions } from "./engine";
export { parseExpectedCodes, ExpectedCodesError, type ExpectedCodes } from "./expected-codes";
export { compileTarget } from "./spec";
export type * from "./types";

import { compileTarget } from "./spec";
import type { HealthTarget } from "./types";

/** Checks a target the way setTargets does; returns the error message or null when valid. */
export function validateHealthTarget(target: HealthTarget): string | null {
  try {
    compileTarget(target);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
