import type { MouseEvent, ReactNode } from "react";

export type Navigate = (path: string) => void;

/** A link the app follows itself (history API), so a click never reloads the page or drops the tokens. */
export function Link({ to, navigate, children }: { to: string; navigate: Navigate; children: ReactNode }) {
  const follow = (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={follow}>
      {children}
    </a>
  );
}

