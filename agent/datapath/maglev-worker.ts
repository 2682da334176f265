/**
 * Worker thread for MaglevPool: computes a slice of a batch and transfers the tables back
 * (their ArrayBuffers move, they are not copied).
 */
import { parentPort } from "node:worker_threads";
import {
  MaglevInputError,
  computeBatch,
  setLayoutCacheBudget,
  unpackListeners,
  type MaglevWorkerRequest,
  type MaglevWorkerResponse,
} from "./maglev";

const port = parentPort;
if (!port) throw new Error("maglev-worker must run as a worker thread");

port.on("message", (req: MaglevWorkerRequest) => {
  let reply: MaglevWorkerResponse;
  let transfer: ArrayBuffer[] = [];
  try {
    setLayoutCacheBudget(req.layoutCacheBytes);
    const { listenerIds, backendLists } = unpackListeners(req);
    const tables = computeBatch(listenerIds, backendLists, req.size);
    transfer = tables.map((t) => t.buffer as ArrayBuffer);
    reply = { seq: req.seq, ok: true, buffers: transfer };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    reply = { seq: req.seq, ok: false, message, inputError: e instanceof MaglevInputError };
  }
  port.postMessage(reply, transfer);
});

port.postMessage({ ready: true });
