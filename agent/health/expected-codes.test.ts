import { describe, expect, it } from "vitest";
import { ExpectedCodesError, parseExpectedCodes } from "./expected-codes";

describe("parseExpectedCodes", () => {
  it("accepts a single code and nothing else", () => {
    const codes = parseExpectedCodes("200");
    expect(codes.matches(200)).toBe(true);
    expect(codes.matches(201)).toBe(false);
    expect(codes.matches(503)).toBe(false);
    expect(codes.text).toBe("200");
  });

  it("accepts lists, ranges and their mix with spaces", () => {
    const codes = parseExpectedCodes(" 200-204 , 301,404 ");
    for (const code of [200, 201, 204, 301, 404]) expect(codes.matches(code)).toBe(true);
    for (const code of [199, 205, 300, 302, 403, 500]) expect(codes.matches(code)).toBe(false);
    expect(codes.text).toBe("200-204 , 301,404");
  });

  it("rejects malformed expressions with a message naming the bad part", () => {
    const cases: Array<[string, RegExp]> = [
      ["", /empty expression/],
      ["20x", /"20x" is not a 3-digit status code/],
      ["200,,204", /empty item/],
      ["299-200", /range 299-200 is reversed/],
      ["99", /not a 3-digit/],
      ["600", /600 is outside 100-599/],
      ["200-", /"" is not a 3-digit/],
      ["2000", /not a 3-digit/],
    ];
    for (const [expression, message] of cases) {
      expect(() => parseExpectedCodes(expression), expression).toThrow(ExpectedCodesError);
      expect(() => parseExpectedCodes(expression), expression).toThrow(message);
    }
  });
});
