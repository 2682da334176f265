"use client";
// One load balancer: overview, listeners, pools, members, history (tabs in the URL: ?tab=members).
import { useParams } from "next/navigation";
import { Suspense } from "react";
import { LbDetail } from "@/components/lb/detail";
import { Loading } from "@/components/ui/feedback";

export default function LoadBalancerPage() {
  const params = useParams<{ lb: string }>();
  return (
    <Suspense fallback={<Loading label="Loading the load balancer…" />}>
      <LbDetail lbRef={decodeURIComponent(params.lb)} />
    </Suspense>
  );
}
