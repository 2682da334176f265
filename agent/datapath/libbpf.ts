// Thin bindings to libbpf.so.1 and a few libc calls through koffi. Every call is synchronous
// and returns libbpf's convention: >= 0 success, -errno failure (NULL + errno for pointers).
// Option structs are built as raw buffers (layouts from libbpf 1.x's bpf.h / libbpf.h).
import koffi from "koffi";
import os from "node:os";

type Ptr = unknown; // opaque native pointer handed back by koffi

interface LibbpfFns {
  objectOpenFile(path: string, opts: Buffer | null): Ptr;
  objectLoad(obj: Ptr): number;
  objectClose(obj: Ptr): void;
  objectFindMap(obj: Ptr, name: string): Ptr;
  objectFindProgram(obj: Ptr, name: string): Ptr;
  mapSetMaxEntries(map: Ptr, n: number): number;
  mapFd(map: Ptr): number;
  programFd(prog: Ptr): number;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: bigint): number;
  mapLookup(fd: number, key: Buffer, value: Buffer): number;
  mapDelete(fd: number, key: Buffer): number;
  mapNextKey(fd: number, key: Buffer | null, next: Buffer): number;
  mapUpdateBatch(
    fd: number,
    keys: Buffer,
    values: Buffer,
    count: Uint32Array,
    opts: Buffer,
  ): number;
  mapLookupBatch(
    fd: number,
    inBatch: Buffer | null,
    outBatch: Buffer,
    keys: Buffer,
    values: Buffer,
    count: Uint32Array,
    opts: Buffer,
  ): number;
  progTestRun(fd: number, opts: Buffer): number;
  linkCreate(progFd: number, targetFd: number, attachType: number, opts: Buffer): number;
  linkUpdate(linkFd: number, newProgFd: number, opts: Buffer | null): number;
  linkDetach(linkFd: number): number;
  objPin(fd: number, path: string): number;
  objGet(path: string): number;
  objGetInfoByFd(fd: number, info: Buffer, len: Uint32Array): number;
  numPossibleCpus(): number;
  close(fd: number): number;
  ifNameToIndex(name: string): number;
  schedSetAffinity(pid: number, size: number, mask: Buffer): number;
  schedGetAffinity(pid: number, size: number, mask: Buffer): number;
  setns(fd: number, nstype: number): number;
  /** mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0); null on failure. */
  mmapShared(fd: number, len: number): Ptr | null;
  munmap(ptr: Ptr, len: number): number;
  /** External memory as an ArrayBuffer (no copy). */
  view(ptr: Ptr, len: number): ArrayBuffer;
  errno(): number;
}

let cached: LibbpfFns | undefined;

/** Loads libbpf.so.1 on first use (so importing this module never needs root or libbpf). */
export function libbpf(): LibbpfFns {
  if (cached) return cached;
  const lib = koffi.load("libbpf.so.1");
  const libc = koffi.load("libc.so.6");
  koffi.opaque("bpf_object");
  koffi.opaque("bpf_map");
  koffi.opaque("bpf_program");
  const f = (l: ReturnType<typeof koffi.load>, decl: string) => l.func(decl);
  const fns = {
    openFile: f(lib, "bpf_object *bpf_object__open_file(const char *path, const void *opts)"),
    load: f(lib, "int bpf_object__load(bpf_object *obj)"),
    closeObj: f(lib, "void bpf_object__close(bpf_object *obj)"),
    findMap: f(lib, "bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)"),
    findProg: f(
      lib,
      "bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)",
    ),
    setMax: f(lib, "int bpf_map__set_max_entries(bpf_map *map, uint32_t max)"),
    mapFd: f(lib, "int bpf_map__fd(bpf_map *map)"),
    progFd: f(lib, "int bpf_program__fd(bpf_program *prog)"),
    update: f(
      lib,
      "int bpf_map_update_elem(int fd, const void *key, const void *value, uint64_t flags)",
    ),
    lookup: f(lib, "int bpf_map_lookup_elem(int fd, const void *key, void *value)"),
    del: f(lib, "int bpf_map_delete_elem(int fd, const void *key)"),
    nextKey: f(lib, "int bpf_map_get_next_key(int fd, const void *key, void *next)"),
    updateBatch: f(
      lib,
      "int bpf_map_update_batch(int fd, const void *keys, const void *values, void *count, const void *opts)",
    ),
    lookupBatch: f(
      lib,
      "int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, void *count, const void *opts)",
    ),
    testRun: f(lib, "int bpf_prog_test_run_opts(int fd, void *opts)"),
    linkCreate: f(
      lib,
      "int bpf_link_create(int prog_fd, int target_fd, int type, const void *opts)",
    ),
    linkUpdate: f(lib, "int bpf_link_update(int link_fd, int new_prog_fd, const void *opts)"),
    linkDetach: f(lib, "int bpf_link_detach(int link_fd)"),
    pin: f(lib, "int bpf_obj_pin(int fd, const char *path)"),
    get: f(lib, "int bpf_obj_get(const char *path)"),
    info: f(lib, "int bpf_obj_get_info_by_fd(int fd, void *info, void *len)"),
    cpus: f(lib, "int libbpf_num_possible_cpus(void)"),
    close: f(libc, "int close(int fd)"),
    ifIndex: f(libc, "unsigned int if_nametoindex(const char *name)"),
    setAff: f(libc, "int sched_setaffinity(int pid, size_t size, const void *mask)"),
    getAff: f(libc, "int sched_getaffinity(int pid, size_t size, void *mask)"),
    setns: f(libc, "int setns(int fd, int nstype)"),
    mmap: f(libc, "void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)"),
    munmap: f(libc, "int munmap(void *addr, size_t len)"),
  };
  cached = {
    objectOpenFile: (path, opts) => fns.openFile(path, opts),
    objectLoad: (obj) => fns.load(obj) as number,
    objectClose: (obj) => void fns.closeObj(obj),
    objectFindMap: (obj, name) => fns.findMap(obj, name),
    objectFindProgram: (obj, name) => fns.findProg(obj, name),
    mapSetMaxEntries: (map, n) => fns.setMax(map, n) as number,
    mapFd: (map) => fns.mapFd(map) as number,
    programFd: (prog) => fns.progFd(prog) as number,
    mapUpdate: (fd, key, value, flags) => fns.update(fd, key, value, flags) as number,
    mapLookup: (fd, key, value) => fns.lookup(fd, key, value) as number,
    mapDelete: (fd, key) => fns.del(fd, key) as number,
    mapNextKey: (fd, key, next) => fns.nextKey(fd, key, next) as number,
    mapUpdateBatch: (fd, keys, values, count, opts) =>
      fns.updateBatch(fd, keys, values, count, opts) as number,
    mapLookupBatch: (fd, inB, outB, keys, values, count, opts) =>
      fns.lookupBatch(fd, inB, outB, keys, values, count, opts) as number,
    progTestRun: (fd, opts) => fns.testRun(fd, opts) as number,
    linkCreate: (p, t, a, o) => fns.linkCreate(p, t, a, o) as number,
    linkUpdate: (l, p, o) => fns.linkUpdate(l, p, o) as number,
    linkDetach: (l) => fns.linkDetach(l) as number,
    objPin: (fd, path) => fns.pin(fd, path) as number,
    objGet: (path) => fns.get(path) as number,
    objGetInfoByFd: (fd, info, len) => fns.info(fd, info, len) as number,
    numPossibleCpus: () => fns.cpus() as number,
    close: (fd) => fns.close(fd) as number,
    ifNameToIndex: (name) => fns.ifIndex(name) as number,
    schedSetAffinity: (pid, size, mask) => fns.setAff(pid, size, mask) as number,
    schedGetAffinity: (pid, size, mask) => fns.getAff(pid, size, mask) as number,
    setns: (fd, nstype) => fns.setns(fd, nstype) as number,
    mmapShared: (fd, len) => {
      const p: unknown = fns.mmap(null, len, 0x1 | 0x2, 0x1, fd, 0);
      // MAP_FAILED is (void *)-1
      return isNull(p) || koffi.address(p) === 0xffffffffffffffffn ? null : p;
    },
    munmap: (ptr, len) => fns.munmap(ptr, len) as number,
    view: (ptr, len) => koffi.view(ptr, len),
    errno: () => koffi.errno(),
  };
  return cached;
}

/** Address of a buffer's first byte, for pointer fields inside option structs. */
export function addressOf(buf: Buffer | Uint8Array | Uint32Array | null): bigint {
  return buf ? koffi.address(buf) : 0n;
}

export class BpfError extends Error {
  constructor(
    readonly op: string,
    readonly errno: number,
  ) {
    super(`${op}: ${os.constants.errno ? errnoName(errno) : errno} (${errno})`);
    this.name = "BpfError";
  }
}

function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(os.constants.errno)) if (value === errno) return name;
  return `errno ${errno}`;
}

/** Throws a BpfError for libbpf's negative return codes; returns the value otherwise. */
export function check(op: string, rc: number): number {
  if (rc < 0) throw new BpfError(op, -rc);
  return rc;
}

export function isNull(p: Ptr): boolean {
  return p === null || p === undefined || koffi.address(p) === 0n;
}

// BPF constants used by the loader (include/uapi/linux/bpf.h, if_link.h).
export const BPF_ANY = 0n;
export const BPF_NOEXIST = 1n;
export const BPF_EXIST = 2n;
export const BPF_XDP = 37; // enum bpf_attach_type
export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;
export const CLONE_NEWNET = 0x40000000;

export const XdpAction = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
export type XdpActionName = keyof typeof XdpAction;
export function xdpActionName(code: number): XdpActionName | `UNKNOWN(${number})` {
  for (const [k, v] of Object.entries(XdpAction)) if (v === code) return k as XdpActionName;
  return `UNKNOWN(${code})`;
}
