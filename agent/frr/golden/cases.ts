// Inputs of the golden-file tests: render(GOLDEN_CASES[name]) must equal golden/<name>.conf.
import type { FrrConfigInput } from "../render";

export const GOLDEN_CASES: Record<string, FrrConfigInput> = {
  "v4-only": {
    hostname: "lb-a1",
    routerId: "198.18.0.11",
    localAsn: 65001,
    neighbors: [{ address: "198.18.0.1", remoteAsn: 65000, description: "router-1" }],
    // Unsorted, with a duplicate in another spelling: rendered sorted numerically, once.
    vips: ["198.19.0.20", "198.19.0.3/32", "198.19.0.100", "198.19.0.3"],
  },
  "v6-only": {
    hostname: "lb-a1",
    routerId: "198.18.0.11",
    localAsn: 65001,
    neighbors: [{ address: "2001:db8:1::1", remoteAsn: 65000 }],
    vips: ["2001:db8:ff::20/128", "2001:DB8:FF:0::3"],
  },
  "dual-stack": {
    hostname: "lb-b1.az-b",
    routerId: "198.18.1.12",
    localAsn: 4200000001,
    neighbors: [
      { address: "2001:db8:1:1::1", remoteAsn: 4200000000, description: "router b v6" },
      { address: "198.18.1.1", remoteAsn: 4200000000, description: "router b v4" },
    ],
    vips: ["2001:db8:ff::10", "198.19.0.10/32", "2001:db8:ff::9/128", "198.19.0.9"],
  },
  "no-vips": {
    hostname: "lb-c1",
    routerId: "198.18.2.13",
    localAsn: 65002,
    neighbors: [
      { address: "198.18.2.1", remoteAsn: 65000 },
      { address: "2001:db8:2::1", remoteAsn: 65000 },
    ],
    vips: [],
  },
  "several-neighbors": {
    hostname: "router",
    routerId: "198.18.255.1",
    localAsn: 65000,
    neighbors: [
      { address: "198.18.3.2", remoteAsn: 65013, description: "lb-c1", password: "t0p-s3cret" },
      { address: "198.18.1.2", remoteAsn: 65011, description: "lb-a1" },
      { address: "2001:db8:3::2", remoteAsn: 65013, description: "lb-c1 v6" },
      // One session carrying both families (IPv6 prefixes over an IPv4 session).
      {
        address: "198.18.2.2",
        remoteAsn: 65012,
        description: "lb-b1",
        addressFamilies: ["ipv6", "ipv4"],
      },
    ],
    vips: [],
    keepaliveSeconds: 1,
    holdSeconds: 3,
    connectRetrySeconds: 2,
    maximumPaths: 8,
    importRoutes: true,
    ipForwarding: true,
  },
  "redistribute-static": {
    hostname: "lb-e1",
    routerId: "198.18.5.15",
    localAsn: 65005,
    neighbors: [
      { address: "198.18.5.1", remoteAsn: 65000 },
      { address: "2001:db8:5::1", remoteAsn: 65000 },
    ],
    vips: ["198.19.0.51", "2001:db8:ff::51", "198.19.0.50"],
    advertiseVia: "redistribute-static",
  },
  "isolated-node": {
    hostname: "lb-d1",
    routerId: "198.18.4.14",
    localAsn: 65004,
    neighbors: [{ address: "198.18.4.1", remoteAsn: 65000 }],
    vips: ["198.19.0.44"],
    importRoutes: false,
    ipForwarding: false,
  },
};
