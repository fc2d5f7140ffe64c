import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import type { Code } from "@connectrpc/connect";
import { type InputHTMLAttributes, useId, useRef, useState } from "react";

import { explainFor } from "./errors";
import type { Product } from "./gen/product/v1/types_pb";
import { type Message, messages, useLanguage } from "./i18n";
import { formatMoney } from "./money";

const m = messages({
  loadMore: { en: "Load more", ja: "さらに表示" },
  loadingMore: { en: "Loading…", ja: "読み込み中…" },
  range: { en: "{low} – {high}", ja: "{low}〜{high}" },
  keep: { en: "No, keep it", ja: "いいえ、そのままにします" },
});

/** An error in words, above all in the words of the form that met it; the general explanation otherwise. */
export function Problem({ error, known = {} }: { error: unknown; known?: Partial<Record<Code, Message>> }) {
  const { t } = useLanguage();
  return (
    <p role="alert" className="problem">
      {t(explainFor(error, known))}
    </p>
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

/** Dates and amounts as the current language writes them. */
export function useFormat() {
  const { t, tag } = useLanguage();
  return {
    date: (at?: Timestamp) =>
      at ? new Intl.DateTimeFormat(tag, { dateStyle: "medium", timeStyle: "short" }).format(timestampDate(at)) : "",
    money: (price?: { amount: bigint; currencyCode: string }) =>
      price ? formatMoney(price.amount, price.currencyCode, tag) : "",
    count: (units: bigint) => new Intl.NumberFormat(tag).format(units),
    /** A country's name from its ISO 3166 code ("JP": "Japan", 「日本」). */
    country: (code: string) => (code ? (new Intl.DisplayNames(tag, { type: "region" }).of(code) ?? code) : ""),
    /** A product's price, or the range of its SKUs' prices ("¥1,200 – ¥2,200"). */
    priceRange: ({ minPrice, maxPrice }: Product) => {
      if (!minPrice || !maxPrice) return "";
      const low = formatMoney(minPrice.amount, minPrice.currencyCode, tag);
      if (minPrice.amount === maxPrice.amount) return low;
      return t(m.range, { low, high: formatMoney(maxPrice.amount, maxPrice.currencyCode, tag) });
    },
  };
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
  // Set when the question is withdrawn, so focus goes back to the button that asked it.
  const returning = useRef(false);
  const id = useId();
  if (!asking)
    return (
      <button
        type="button"
        className="danger"
        onClick={() => setAsking(true)}
        ref={(button) => {
          if (button && returning.current) button.focus();
          returning.current = false;
        }}
      >
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
      <button
        type="button"
        className="secondary"
        onClick={() => {
          returning.current = true;
          setAsking(false);
        }}
        autoFocus
      >
        {t(m.keep)}
      </button>
    </div>
  );
}

interface FieldProps extends InputHTMLAttributes<HTMLInputElement> {
  id: string;
  label: string;
  /** Said under the input and read with it by screen readers. */
  help?: string;
}

/** A labelled text field of a stacked form: the label above, the input below, and its help, if any, under it. */
export function Field({ id, label, help, ...input }: FieldProps) {
  return (
    <p>
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-describedby={help ? `${id}-help` : undefined} {...input} />
      {help && (
        <small id={`${id}-help`} className="help">
          {help}
        </small>
      )}
    </p>
  );
}
