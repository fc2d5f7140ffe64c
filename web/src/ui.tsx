import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import type { Code } from "@connectrpc/connect";
import {
  type ButtonHTMLAttributes,
  type InputHTMLAttributes,
  type ReactNode,
  type Ref,
  useId,
  useRef,
  useState,
} from "react";

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
    <SubmitButton
      type="button"
      pending={isFetchingNextPage}
      pendingText={t(m.loadingMore)}
      onClick={() => void fetchNextPage()}
    >
      {t(m.loadMore)}
    </SubmitButton>
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
      <SubmitButton type="button" className="danger" pending={pending} pendingText={pendingText} onClick={onConfirm}>
        {confirm}
      </SubmitButton>{" "}
      {/* The asking button is gone: focus the safe choice rather than losing focus to the page. */}
      <button
        type="button"
        className="secondary"
        onClick={() => {
          returning.current = true;
          setAsking(false);
        }}
        // eslint-disable-next-line jsx-a11y/no-autofocus -- not on arrival: it follows the press that replaced the asking button
        autoFocus
      >
        {t(m.keep)}
      </button>
    </div>
  );
}

interface FieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, "children"> {
  id: string;
  /** The input, for a form that moves focus to it. */
  ref?: Ref<HTMLInputElement>;
  label: ReactNode;
  /** Said under the control and read with it by screen readers. */
  help?: ReactNode;
  /**
   * The control when it is not a text input (a select, a textarea): made with the id and description it must
   * carry. Without it, the field is an input with the other props.
   */
  control?: (wiring: { id: string; "aria-describedby"?: string }) => ReactNode;
}

/**
 * A labelled field of a form: the label, the control (an input unless `control` makes another), and its help, if
 * any, under it. Every form's fields are these; how they line up (stacked, in a row) is the form's class.
 */
export function Field({ id, label, help, control, ...input }: FieldProps) {
  const wiring = { id, "aria-describedby": help ? `${id}-help` : undefined };
  return (
    <p>
      <label htmlFor={id}>{label}</label>
      {control ? control(wiring) : <input {...wiring} {...input} />}
      {help && (
        <small id={`${id}-help`} className="help">
          {help}
        </small>
      )}
    </p>
  );
}

interface SubmitButtonProps extends Omit<ButtonHTMLAttributes<HTMLButtonElement>, "type" | "children"> {
  /** A form's submit button, or with "button" an action's (its `onClick`). */
  type?: "submit" | "button";
  /** The call it started is running: the button says `pendingText` and does nothing until it is done. */
  pending: boolean;
  pendingText: string;
  children: ReactNode;
  /** What it acts on, read by screen readers and hidden on screen ("Save stock" SENCHA-100G). */
  target?: string;
}

/**
 * The one button that starts a call. While the call runs it stays focusable and says so (`aria-disabled`, its
 * text becomes `pendingText`), and a press, a double click or Enter in a field submits nothing more: focus is not
 * lost, as it would be by `disabled`, which is kept for what cannot be done yet.
 */
export function SubmitButton({
  type = "submit",
  pending,
  pendingText,
  children,
  target,
  onClick,
  ...button
}: SubmitButtonProps) {
  return (
    <button
      type={type}
      {...button}
      aria-disabled={pending || undefined}
      onClick={(event) => {
        if (pending) event.preventDefault();
        else onClick?.(event);
      }}
    >
      {pending ? pendingText : children}
      {target && (
        <>
          {" "}
          <span className="visually-hidden">{target}</span>
        </>
      )}
    </button>
  );
}
