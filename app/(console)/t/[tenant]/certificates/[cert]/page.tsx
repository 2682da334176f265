"use client";
// One certificate: parsed chain, versions, what uses it; rotate (new version in place) and delete.
import { useParams } from "next/navigation";
import { CertDetail } from "@/components/certs/detail";

export default function CertificatePage() {
  const params = useParams<{ cert: string }>();
  return <CertDetail certRef={decodeURIComponent(params.cert)} />;
}
