// The TypeScript codecs must agree with bpf/include: compile a C program against the real
// headers that prints every struct's size and field offsets, and the constants.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import * as abi from "./abi";
import { BPF_DIR } from "./build";

const CONSTANTS = [
  "TB_MAGLEV_SIZE",
  "TB_NO_BACKEND",
  "TB_MAX_LISTENERS",
  "TB_MAX_BACKENDS",
  "TB_MAX_VIPS",
  "TB_MAX_CIDRS",
  "TB_CONN4_PER_CPU",
  "TB_CONN6_PER_CPU",
  "TB_MAX_RANGES_PER_VIP",
  "TB_OUTER_TTL",
  "TB_VIP_FILTER_BITS_LOG2",
  "TB_VIP_FILTER_WORDS",
  "TB_HASH_SEED",
  "TB_G_COUNTERS",
] as const;

const FLAGS = {
  TB_LISTENER_F_ACTIVE: abi.LISTENER_F_ACTIVE,
  TB_LISTENER_F_SRC_AFFINITY: abi.LISTENER_F_SRC_AFFINITY,
  TB_LISTENER_F_CIDR_FILTER: abi.LISTENER_F_CIDR_FILTER,
  TB_FAMILY_NONE: abi.FAMILY_NONE,
  TB_FAMILY_V4: abi.FAMILY_V4,
  TB_FAMILY_V6: abi.FAMILY_V6,
  TB_CFG_F_USE_FIB: abi.CFG_F_USE_FIB,
  TB_CFG_F_FALLBACK: abi.CFG_F_FALLBACK,
};

// enum tb_global_counter names, in the order abi.GLOBAL_COUNTERS lists them
const GLOBAL_ENUM = [
  "TB_G_PASS",
  "TB_G_TX",
  "TB_G_CACHE_HIT",
  "TB_G_FIB_FALLBACK",
  "TB_G_FIB_CACHED",
  "TB_G_REDIRECT",
  "TB_G_CACHE_MISS",
  "TB_G_FIB_OK",
  "TB_G_DROP",
  "TB_G_FLOOD_ENTER",
  "TB_G_FLOOD_STATELESS",
  "TB_G_MALFORMED",
  "TB_G_DROP_UNCLASSIFIABLE",
];

function cProgram(): string {
  const lines = [
    "#include <stdio.h>",
    "#include <stddef.h>",
    '#include "tb_abi.h"',
    "int main(void) {",
    '  printf("{\\"structs\\":{");',
  ];
  const structs = Object.entries(abi.LAYOUTS);
  structs.forEach(([name, layout], i) => {
    const fields = Object.keys(layout.fields)
      .map((f) => `\\"${f}\\":%zu`)
      .join(",");
    const args = Object.keys(layout.fields)
      .map((f) => `offsetof(struct ${name}, ${f})`)
      .join(", ");
    lines.push(
      `  printf("\\"${name}\\":{\\"size\\":%zu,\\"fields\\":{${fields}}}${i < structs.length - 1 ? "," : ""}", sizeof(struct ${name}), ${args});`,
    );
  });
  lines.push('  printf("},\\"constants\\":{");');
  const consts = [...CONSTANTS, ...Object.keys(FLAGS), ...GLOBAL_ENUM];
  consts.forEach((c, i) => {
    lines.push(
      `  printf("\\"${c}\\":%llu${i < consts.length - 1 ? "," : ""}", (unsigned long long)(${c}));`,
    );
  });
  lines.push('  printf("}}\\n");', "  return 0;", "}");
  return lines.join("\n");
}

describe("ABI: agent/datapath/abi.ts mirrors bpf/include", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tb-abi-"));
  const src = path.join(dir, "abi.c");
  const bin = path.join(dir, "abi");
  fs.writeFileSync(src, cProgram());
  execFileSync("clang", ["-O0", `-I${path.join(BPF_DIR, "include")}`, src, "-o", bin]);
  const c = JSON.parse(execFileSync(bin).toString()) as {
    structs: Record<string, { size: number; fields: Record<string, number> }>;
    constants: Record<string, number>;
  };
  fs.rmSync(dir, { recursive: true, force: true });

  it.each(Object.entries(abi.LAYOUTS))("struct %s: size and field offsets", (name, layout) => {
    expect(c.structs[name]).toEqual({ size: layout.size, fields: layout.fields });
  });

  it("constants", () => {
    expect(c.constants).toMatchObject({
      TB_MAGLEV_SIZE: abi.TB_MAGLEV_SIZE,
      TB_NO_BACKEND: abi.TB_NO_BACKEND,
      TB_MAX_LISTENERS: abi.TB_MAX_LISTENERS,
      TB_MAX_BACKENDS: abi.TB_MAX_BACKENDS,
      TB_MAX_VIPS: abi.TB_MAX_VIPS,
      TB_MAX_CIDRS: abi.TB_MAX_CIDRS,
      TB_CONN4_PER_CPU: abi.TB_CONN4_PER_CPU,
      TB_CONN6_PER_CPU: abi.TB_CONN6_PER_CPU,
      TB_MAX_RANGES_PER_VIP: abi.TB_MAX_RANGES_PER_VIP,
      TB_OUTER_TTL: abi.TB_OUTER_TTL,
      TB_VIP_FILTER_BITS_LOG2: abi.TB_VIP_FILTER_BITS_LOG2,
      TB_VIP_FILTER_WORDS: abi.TB_VIP_FILTER_WORDS,
      TB_HASH_SEED: abi.TB_HASH_SEED,
      TB_G_COUNTERS: abi.TB_G_COUNTERS,
      ...FLAGS,
    });
  });

  it("global counter order", () => {
    GLOBAL_ENUM.forEach((name, i) => expect([name, c.constants[name]]).toEqual([name, i]));
    const enumName = (n: string) => `TB_G_${n.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
    expect(abi.GLOBAL_COUNTERS.map(enumName)).toEqual(GLOBAL_ENUM);
  });

  it("key and value encoders produce the sizes the header declares", () => {
    const v4 = abi.addrBytes("198.19.0.1").bytes;
    const v6 = abi.addrBytes("2001:db8::1").bytes;
    expect(abi.listenKey4(v4, 80, 6).length).toBe(abi.LAYOUTS.tb_listen_key4.size);
    expect(abi.listenKey6(v6, 80, 6).length).toBe(abi.LAYOUTS.tb_listen_key6.size);
    expect(abi.cidrKey(4, 1, v4, 24).length).toBe(abi.LAYOUTS.tb_cidr_key4.size);
    expect(abi.cidrKey(6, 1, v6, 64).length).toBe(abi.LAYOUTS.tb_cidr_key6.size);
    expect(abi.encodeVip([]).length).toBe(abi.LAYOUTS.tb_vip.size);
    expect(abi.encodeBackend(4, v4).length).toBe(abi.LAYOUTS.tb_backend.size);
    expect(abi.encodeListener(1, 7, 0).length).toBe(abi.LAYOUTS.tb_listener.size);
    expect(abi.decodeListener(abi.encodeListener(5, 0x1_0003, 1))).toEqual({
      flags: 5,
      gen: 3,
      tableSel: 1,
    });
    expect(() => abi.encodeListener(0x1_0000, 0, 0)).toThrow(/16 bits/);
    expect(abi.encodeConn(9, 4095, 65535).length).toBe(abi.LAYOUTS.tb_conn.size);
    expect(abi.decodeConn(abi.encodeConn(9, 4095, 65535))).toEqual({
      backendId: 9,
      listenerId: 4095,
      gen: 65535,
    });
    expect(abi.encodeConfig({ useFib: true }).length).toBe(abi.LAYOUTS.tb_config.size);
    const f4 = { family: 4 as const, src: v4, dst: v4, sport: 1, dport: 2, proto: 6 };
    expect(abi.flowKey(f4).length).toBe(abi.LAYOUTS.tb_flow4.size);
    expect(abi.flowKey({ ...f4, family: 6, src: v6, dst: v6 }).length).toBe(
      abi.LAYOUTS.tb_flow6.size,
    );
  });

  it("addresses round-trip through the codecs", () => {
    for (const a of [
      "198.18.0.1",
      "2001:db8::1",
      "2001:db8:1:2:3:4:5:6",
      "::",
      "2001:db8::ffff:0:1",
      "::ffff:198.18.0.1",
    ]) {
      const { family, bytes } = abi.addrBytes(a);
      const back = abi.formatAddr(family, bytes);
      expect(abi.addrBytes(back).bytes.equals(bytes)).toBe(true);
    }
    expect(abi.formatAddr(6, abi.addrBytes("2001:0db8:0:0:0:0:0:0001").bytes)).toBe("2001:db8::1");
    expect(() => abi.addrBytes("198.18.0")).toThrow();
    expect(() => abi.parseCidr("198.18.0.0/33")).toThrow();
  });
});
