// Replays the golden fixtures in bpf/tests/fixtures/*.json (input frame, map seed, expected
// verdict, expected output bytes) through tb_lb with BPF_PROG_TEST_RUN.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BPF_DIR } from "./build";
import { Datapath, type ListenerSpec } from "./datapath";
import { xdpActionName } from "./libbpf";
import { ETH_P_IPV6, l3Offset } from "./packet";
import { NOT_ROOT_REASON, isRoot, mountPrivateBpffs, type PrivateBpffs } from "./test-support";

interface Fixture {
  name: string;
  seed: {
    node: { v4: string; v6: string };
    fallback: { ifindex: number; dstMac: string; srcMac: string };
    listener: ListenerSpec;
    backend: { id: number; address: string };
  };
  input: string;
  action: "TX" | "PASS" | "DROP";
  output: string | null;
}

const dir = path.join(BPF_DIR, "tests", "fixtures");
const files = fs.readdirSync(dir).filter((f) => f.endsWith(".json"));
const fixtures = files.flatMap((f) =>
  (JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as Fixture[]).map(
    (x) => [`${f}: ${x.name}`, x] as const,
  ),
);

/** IPv6 outer headers carry the flow hash in the flow label; the fixtures leave it zero. */
function maskFlowLabel(frame: Buffer): Buffer {
  const b = Buffer.from(frame);
  const l3 = l3Offset(b);
  if (b.readUInt16BE(l3 - 2) === ETH_P_IPV6 && (b[l3 + 6] === 4 || b[l3 + 6] === 41)) {
    b.writeUInt32BE((b.readUInt32BE(l3) & 0xfff00000) >>> 0, l3);
  }
  return b;
}

describe.skipIf(!isRoot)(`golden fixtures${isRoot ? "" : ` (skipped: ${NOT_ROOT_REASON})`}`, () => {
  let bpffs: PrivateBpffs;
  let dp: Datapath;

  beforeAll(() => {
    bpffs = mountPrivateBpffs("fixtures");
    dp = Datapath.open({
      pinDir: bpffs.dir,
      maxListeners: 64,
      maxBackends: 256,
      conn4PerCpu: 1024,
      conn6PerCpu: 1024,
    });
  });
  afterAll(() => {
    dp?.close();
    bpffs?.cleanup();
  });

  it("found fixtures", () => expect(fixtures.length).toBeGreaterThan(5));

  it.each(fixtures)("%s", (_name, f) => {
    dp.configure({ nodeV4: f.seed.node.v4, nodeV6: f.seed.node.v6, fallback: f.seed.fallback });
    const id = dp.upsertListener({ ...f.seed.listener, backends: [f.seed.backend] });
    dp.writeTables(new Map([[id, new Uint32Array(dp.tableSize).fill(f.seed.backend.id)]]));
    const input = Buffer.from(f.input, "hex");
    const r = dp.testRunner().run(input);
    expect(xdpActionName(r.action)).toBe(f.action);
    if (f.output !== null) expect(maskFlowLabel(r.data).toString("hex")).toBe(f.output);
  });
});
