import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import type { Code } from "@connectrpc/connect";

import { explainFor } from "./errors";
import type { Product } from "./gen/product/v1/types_pb";
import { type Message, messages, useLanguage } from "./i18n";
import { formatMoney } from "./money";

const m = messages({
  loadMore: { en: "Load more", ja: "さらに表示" },
  loadingMore: { en: "Loading…", ja: "読み込み中…" },
  range: { en: "{low} – {high}", ja: "{low}〜{high}" },
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
