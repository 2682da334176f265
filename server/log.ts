import pino from "pino";

export function createLogger(level: string, name = "tenbin") {
  return pino({ name, level });
}
