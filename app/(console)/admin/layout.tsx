import type { ReactNode } from "react";
import { PlatformOnly } from "@/components/shell/platform-only";

export default function AdminLayout({ children }: { children: ReactNode }) {
  return <PlatformOnly>{children}</PlatformOnly>;
}
