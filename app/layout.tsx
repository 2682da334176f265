import type { Metadata } from "next";
import type { ReactNode } from "react";
import "@fontsource-variable/inter";
import "./globals.css";
import { ApiProvider } from "@/components/trpc";

export const metadata: Metadata = {
  title: { default: "Tenbin", template: "%s · Tenbin" },
  description: "Tenbin load-balancer-as-a-service console",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen font-sans">
        <ApiProvider>{children}</ApiProvider>
      </body>
    </html>
  );
}
