// POST /api/agent/join {joinToken, agentVersion} → {nodeId, nodeName, credential}: an agent
// exchanges its one-time join token for the node credential it will authenticate with.
import type http from "node:http";
import { z } from "zod";
import type { Db } from "../db/client";
import { exchangeJoinToken } from "../domain/agents";
import { DomainError } from "../domain/errors";

const body = z.object({ joinToken: z.string().min(1).max(200), agentVersion: z.string().min(1).max(64) });

export function joinHandler(db: Db): http.RequestListener {
  return (req, res) => {
    const reply = (status: number, payload: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(payload));
    };
    if (req.method !== "POST") return reply(405, { error: "POST only" });
    let raw = "";
    let size = 0;
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      size += chunk.length;
      if (size > 4096) {
        reply(413, { error: "request body too large" });
        req.destroy();
      } else raw += chunk;
    });
    req.on("end", () => {
      let parsed: z.infer<typeof body>;
      try {
        const r = body.safeParse(JSON.parse(raw));
        if (!r.success) return reply(400, { error: `invalid request: ${r.error.issues[0]!.path.join(".")}: ${r.error.issues[0]!.message}` });
        parsed = r.data;
      } catch {
        return reply(400, { error: "request body is not valid JSON" });
      }
      exchangeJoinToken(db, parsed)
        .then((out) => reply(200, out))
        .catch((err: unknown) =>
          err instanceof DomainError ? reply(401, { error: err.message }) : reply(500, { error: "internal error" }),
        );
    });
  };
}
