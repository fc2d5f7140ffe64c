import { useQueryClient } from "@tanstack/react-query";
import { type ReactNode, useId, useState } from "react";

import { messages, useLanguage } from "../i18n";

/** How many rows a list page asks for at a time. */
export const PAGE_SIZE = 20;

const m = messages({
  cancel: { en: "Cancel", ja: "キャンセル" },
});

/** The value of a whole-number field the browser has validated (`step={1}`), which may be written "1e3". */
export function wholeNumber(value: string): bigint {
  return BigInt(Number(value));
}

/** A wide table, scrolled sideways on its own on a narrow screen (focusable, so a keyboard can scroll it too). */
export function Scroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="scroll" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

interface ConfirmProps {
  /** The button that asks, e.g. "Delete", and what it acts on (read by screen readers, hidden on screen). */
  action: string;
  target: string;
  question: string;
  /** The button that does it, e.g. "Yes, delete it", and its text while it runs. */
  confirm: string;
  pendingText: string;
  pending: boolean;
  onConfirm: () => void;
}

/** A destructive action, done only once it has been confirmed. */
export function Confirm({ action, target, question, confirm, pendingText, pending, onConfirm }: ConfirmProps) {
  const { t } = useLanguage();
  const [asking, setAsking] = useState(false);
  const id = useId();
  if (!asking)
    return (
      <button type="button" className="danger" onClick={() => setAsking(true)}>
        {action} <span className="visually-hidden">{target}</span>
      </button>
    );
  return (
    <div role="group" aria-labelledby={id} className="confirm">
      <p id={id}>{question}</p>
      <button type="button" className="danger" onClick={onConfirm} disabled={pending}>
        {pending ? pendingText : confirm}
      </button>{" "}
      {/* The asking button is gone: focus the safe choice rather than losing focus to the page. */}
      <button type="button" className="secondary" onClick={() => setAsking(false)} autoFocus>
        {t(m.cancel)}
      </button>
    </div>
  );
}

/**
 * After a change to the catalog or to stock: every cached answer about products, categories and stock is
 * marked stale (the back office's lists, and the storefront's pages an admin may have open), and the ones on
 * screen are fetched again; carts, orders and accounts are left alone. A mutation's `onSuccess` returns the
 * promise, so the mutation stays pending until the screen shows its result.
 */
const CATALOG_KEYS = new Set(["products", "product", "stock", "categories", "inventory"]);

export function useCatalogChanged() {
  const queries = useQueryClient();
  return () =>
    queries.invalidateQueries({
      // Keys name their kind first, after "admin" for the back office's own: ["admin", "inventory", skuId].
      predicate: ({ queryKey: [first, second] }) => CATALOG_KEYS.has(String(first === "admin" ? second : first)),
    });
}
