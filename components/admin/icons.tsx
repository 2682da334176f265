// Outline icons for the platform inventory pages (same style as ui/icons).
import type { SVGProps } from "react";

type P = SVGProps<SVGSVGElement>;
function Icon({ d, ...props }: P & { d: string }) {
  return (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={1.6} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" {...props}>
      <path d={d} />
    </svg>
  );
}

export const GlobeIcon = (p: P) => <Icon d="M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18ZM3 12h18M12 3c2.5 2.6 3.8 5.6 3.8 9s-1.3 6.4-3.8 9c-2.5-2.6-3.8-5.6-3.8-9S9.5 5.6 12 3Z" {...p} />;
export const ServerIcon = (p: P) => <Icon d="M4 4h16v6H4zM4 14h16v6H4zM8 7h.01M8 17h.01" {...p} />;
export const NetworkIcon = (p: P) => <Icon d="M12 3v6M5 21v-4h14v4M12 13v4M9 9h6v4H9zM3 21h4M17 21h4" {...p} />;
export const GaugeIcon = (p: P) => <Icon d="M4 18a8 8 0 1 1 16 0M12 18l4-6M12 18h.01" {...p} />;
