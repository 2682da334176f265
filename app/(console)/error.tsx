"use client";
// A page that crashed while rendering: say so and offer a retry, keep the shell around it.
import { ErrorState } from "@/components/ui/feedback";

export default function ConsoleError({ error, retry }: { error: unknown; retry: () => void }) {
  const message = error instanceof Error && error.message ? error.message : "unexpected error";
  return <ErrorState title="This page failed to load" message={message} onRetry={retry} />;
}
