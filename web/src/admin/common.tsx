import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import type { Code } from "@connectrpc/connect";
import { useQueryClient } from "@tanstack/react-query";
import { type ReactNode, useId, useState } from "react";

import { explainFor } from "../errors";
import { type Message, messages, useLanguage } from "../i18n";
import { formatMoney } from "../money";

/** How many rows a list page asks for at a time. */
export const PAGE_SIZE = 20;

const m = messages({
  loadMore: { en: "Load more", ja: "さらに表示" },
  loadingMore: { en: "Loading…", ja: "読み込み中…" },
  cancel: { en: "Cancel", ja: "キャンセル" },
});

/** The value of a whole-number field the browser has validated (`step={1}`), which may be written "1e3". */
export function wholeNumber(value: string): bigint {
  return BigInt(Number(value));
}

/** An error in words, above all in the words of the form that met it; the general explanation otherwise. */
export function Problem({ error, known = {} }: { error: unknown; known?: Partial<Record<Code, Message>> }) {
  const { t } = useLanguage();
  return (
    <p role="alert" className="problem">
      {t(explainFor(error, known))}
    </p>
  );
}

/** A wide table, scrolled sideways on its own on a narrow screen (focusable, so a keyboard can scroll it too). */
export function Scroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="scroll" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

interface MoreProps {
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  fetchNextPage: () => unknown;
}

/** "Load more" under a paged list, while there is a next page. */
export function More({ hasNextPage, isFetchingNextPage, fetchNextPage }: MoreProps) {
  const { t } = useLanguage();
  if (!hasNextPage) return null;
  return (
    <button type="button" onClick={() => void fetchNextPage()} disabled={isFetchingNextPage}>
      {isFetchingNextPage ? t(m.loadingMore) : t(m.loadMore)}
    </button>
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

/** Dates and amounts as the current language writes them. */
export function useFormat() {
  const { tag } = useLanguage();
  return {
    date: (at?: Timestamp) =>
      at ? new Intl.DateTimeFormat(tag, { dateStyle: "medium", timeStyle: "short" }).format(timestampDate(at)) : "",
    money: (price?: { amount: bigint; currencyCode: string }) =>
      price ? formatMoney(price.amount, price.currencyCode, tag) : "",
    count: (units: bigint) => new Intl.NumberFormat(tag).format(units),
  };
}

/**
 * After a change to the catalog or to stock: every cached answer is marked stale (the back office's lists, and
 * the storefront's pages an admin may have open), and the ones on screen are fetched again. A mutation's
 * `onSuccess` returns the promise, so the mutation stays pending until the screen shows its result.
 */
export function useCatalogChanged() {
  const queries = useQueryClient();
  return () => queries.invalidateQueries();
}
