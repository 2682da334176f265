// Command-line values and member files → API input, with clear usage errors (exit 2).
import { describe, expect, it } from "vitest";
import { CliError } from "./errors";
import { parseHostPort, parseMembersText, parsePortRange, parseProtocol, parseTags, validateMemberKeys, validateMembers } from "./parse";

function usage(fn: () => unknown): CliError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    return err as CliError;
  }
  throw new Error("expected a usage error");
}

describe("member addresses", () => {
  it("reads ADDR:PORT with IPv6 in brackets and refuses ambiguous or broken forms", () => {
    expect(parseHostPort("198.18.0.5:80")).toEqual({ address: "198.18.0.5", port: 80 });
    expect(parseHostPort("[2001:db8::5]:8443")).toEqual({ address: "2001:db8::5", port: 8443 });
    expect(usage(() => parseHostPort("2001:db8::5:80")).message).toContain("with brackets, e.g. [2001:db8::5]:80");
    expect(usage(() => parseHostPort("198.18.0.5")).message).toContain("ADDRESS:PORT");
    expect(usage(() => parseHostPort("198.18.0.5:70000")).message).toContain("1–65535");
  });
});

describe("member files", () => {
  it("reads text/CSV with comments, a header, spaces or commas, IPv6 and optional weights", () => {
    const text = "# web tier\naddress,port,weight\n198.18.10.1,80\n198.18.10.2 80 50  # half\n\n[2001:db8::7],80,0\n2001:db8::8, 80\n";
    expect(parseMembersText(text, "m.csv")).toEqual([
      { address: "198.18.10.1", port: 80 },
      { address: "198.18.10.2", port: 80, weight: 50 },
      { address: "2001:db8::7", port: 80, weight: 0 },
      { address: "2001:db8::8", port: 80 },
    ]);
  });

  it("names the file and line of a bad entry", () => {
    expect(usage(() => parseMembersText("198.18.10.1,80\n198.18.10.2\n", "m.csv")).message).toBe(
      'm.csv line 2: expected address,port[,weight], got "198.18.10.2"',
    );
    expect(usage(() => parseMembersText("198.18.10.1,http\n", "m.csv")).message).toContain("m.csv line 1: port");
  });

  it("reads a JSON array (or {members: [...]}) with every member field", () => {
    const json = JSON.stringify([{ address: "198.18.10.1", port: 80, weight: 5, adminState: "disabled", monitorPort: 8080 }]);
    expect(parseMembersText(json, "m.json")).toEqual([{ address: "198.18.10.1", port: 80, weight: 5, adminState: "disabled", monitorPort: 8080 }]);
    expect(parseMembersText(JSON.stringify({ members: [{ address: "198.18.10.2", port: 81 }] }), "m.json")).toEqual([{ address: "198.18.10.2", port: 81 }]);
    expect(usage(() => parseMembersText("[{", "m.json")).message).toMatch(/^m\.json is not valid JSON/);
  });

  it("validates members with the API's own schema, naming the field", () => {
    const e = usage(() => validateMembers([{ address: "198.18.10.1", port: 80, weight: 300 }, { address: "nope", port: 80 }]));
    expect(e.fieldErrors).toEqual({ "members.0.weight": ["0–256 (0 drains)"], "members.1.address": ["not a valid IPv4 or IPv6 address"] });
    // Canonical addresses, defaults applied: exactly what the server will store.
    expect(validateMembers([{ address: "2001:DB8:0::5", port: 80 }])).toEqual([{ address: "2001:db8::5", port: 80, weight: 100, adminState: "enabled" }]);
    expect(validateMemberKeys([{ address: "198.18.10.1", port: 80, weight: 300 }])).toEqual([{ address: "198.18.10.1", port: 80 }]);
  });
});

describe("other values", () => {
  it("parses ports and ranges, protocols and tags", () => {
    expect(parsePortRange("80")).toEqual({ port: 80 });
    expect(parsePortRange("8000-8010")).toEqual({ port: 8000, portEnd: 8010 });
    expect(usage(() => parsePortRange("80-")).message).toContain("a range (8000-8010)");
    expect(parseProtocol("udp")).toBe("UDP");
    expect(usage(() => parseProtocol("sctp")).message).toBe('protocol must be TCP or UDP, not "sctp"');
    expect(parseTags(["env=prod", "note=a=b", "canary"])).toEqual({ env: "prod", note: "a=b", canary: "" });
    expect(usage(() => parseTags(["=x"])).message).toContain("key=value");
  });
});
