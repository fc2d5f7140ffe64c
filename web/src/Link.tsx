import type { MouseEvent, ReactNode } from "react";

export type Navigate = (path: string) => void;

interface LinkProps {
  to: string;
  navigate: Navigate;
  /** Marks the link to the page being shown (`aria-current="page"`). */
  current?: boolean;
  children: ReactNode;
}

/** A link the app follows itself (history API), so a click never reloads the page or drops the tokens. */
export function Link({ to, navigate, current, children }: LinkProps) {
  const follow = (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={follow} aria-current={current ? "page" : undefined}>
      {children}
    </a>
  );
}
