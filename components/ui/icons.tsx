// A few outline icons (24px grid, currentColor), drawn here to need no icon package.
import type { SVGProps } from "react";

function Icon({ d, ...props }: SVGProps<SVGSVGElement> & { d: string }) {
  return (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth={1.6} strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" {...props}>
      <path d={d} />
    </svg>
  );
}

type P = SVGProps<SVGSVGElement>;
export const HomeIcon = (p: P) => <Icon d="M3 10.5 12 3l9 7.5M5 9v11h5v-6h4v6h5V9" {...p} />;
export const BalanceIcon = (p: P) => <Icon d="M12 3v18M5 7h14M5 7l-3 7h6L5 7Zm14 0-3 7h6l-3-7ZM8 21h8" {...p} />;
export const UsersIcon = (p: P) => <Icon d="M16 19v-1a4 4 0 0 0-4-4H7a4 4 0 0 0-4 4v1M9.5 10a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7ZM21 19v-1a4 4 0 0 0-3-3.87M15.5 3.13a3.5 3.5 0 0 1 0 6.74" {...p} />;
export const ListIcon = (p: P) => <Icon d="M8 6h13M8 12h13M8 18h13M3.5 6h.01M3.5 12h.01M3.5 18h.01" {...p} />;
export const KeyIcon = (p: P) => <Icon d="M15.5 7.5a3 3 0 1 1-6 0 3 3 0 0 1 6 0ZM10.3 9.7 3 17v4h4v-2h2v-2h2l1.3-1.3" {...p} />;
export const BuildingIcon = (p: P) => <Icon d="M4 21V5a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v16M16 9h2a2 2 0 0 1 2 2v10M2 21h20M8 7h4M8 11h4M8 15h4" {...p} />;
export const ShieldIcon = (p: P) => <Icon d="M12 3 4 6v6c0 4.5 3.4 8.3 8 9 4.6-.7 8-4.5 8-9V6l-8-3Z" {...p} />;
export const MenuIcon = (p: P) => <Icon d="M4 6h16M4 12h16M4 18h16" {...p} />;
export const CloseIcon = (p: P) => <Icon d="M6 6l12 12M18 6 6 18" {...p} />;
