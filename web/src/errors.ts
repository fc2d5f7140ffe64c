import { Code, ConnectError } from "@connectrpc/connect";

import { type Message, messages } from "./i18n";

const m = messages({
  expired: { en: "Your session has expired. Please sign in again.", ja: "セッションの有効期限が切れました。もう一度ログインしてください。" },
  forbidden: { en: "Your account is not allowed to do this.", ja: "このアカウントではこの操作はできません。" },
  notFound: { en: "This item is no longer available.", ja: "この商品はもう取り扱っていません。" },
  changedRequest: {
    en: "This checkout was already placed with different details. Please review your order and try again.",
    ja: "この注文は別の内容ですでに送信されています。内容を確認して、もう一度お試しください。",
  },
  exists: { en: "That is already taken.", ja: "すでに使われています。" },
  empty: { en: "Your cart is empty.", ja: "カートは空です。" },
  unpurchasable: { en: "Some items in your cart are no longer available.", ja: "カート内の一部の商品は購入できなくなりました。" },
  currency: {
    en: "Items priced in different currencies cannot share one cart.",
    ja: "通貨の異なる商品を同じカートに入れることはできません。",
  },
  full: { en: "Your cart is full: it holds at most 50 different items.", ja: "カートがいっぱいです（最大50品目）。" },
  precondition: { en: "This cannot be done in the current state.", ja: "現在の状態ではこの操作はできません。" },
  invalid: { en: "Please check what you entered.", ja: "入力内容を確認してください。" },
  quantity: { en: "That quantity is not possible: a line holds 1 to 99 units.", ja: "数量は1〜99の範囲で指定してください。" },
  conflict: {
    en: "Someone else changed this in the meantime. It has been reloaded: check it and try again.",
    ja: "ほかの人が先に変更しました。最新の内容を読み込んだので、確認してもう一度お試しください。",
  },
  busy: { en: "Too many requests just now. Please wait a moment and try again.", ja: "リクエストが多すぎます。しばらく待ってからお試しください。" },
  unreachable: {
    en: "The shop cannot be reached right now. Please try again in a moment.",
    ja: "現在ショップに接続できません。しばらくしてからお試しください。",
  },
  unknown: { en: "Something went wrong. Please try again.", ja: "問題が発生しました。もう一度お試しください。" },
  declined: {
    en: "Your card was declined. Nothing was charged, and your cart is kept: try another card.",
    ja: "カードが承認されませんでした。請求はされておらず、カートはそのままです。別のカードをお試しください。",
  },
  soldOut: {
    en: "Some items sold out while you were checking out. Nothing was charged, and your cart is kept.",
    ja: "手続き中に一部の商品が売り切れました。請求はされておらず、カートはそのままです。",
  },
  offSale: {
    en: "Some items are no longer on sale. Nothing was charged, and your cart is kept.",
    ja: "一部の商品が販売終了になりました。請求はされておらず、カートはそのままです。",
  },
  cancelled: { en: "You cancelled this order. Nothing was charged.", ja: "この注文はキャンセルされました。請求はされていません。" },
  failed: {
    en: "The order could not be completed. Nothing was charged, and your cart is kept.",
    ja: "注文を完了できませんでした。請求はされておらず、カートはそのままです。",
  },
});

/** What went wrong, in words people understand (translate it with `t`); never a raw code. */
export function explain(error: unknown): Message {
  const e = ConnectError.from(error);
  switch (e.code) {
    case Code.Unauthenticated:
      return m.expired;
    case Code.PermissionDenied:
      return m.forbidden;
    case Code.NotFound:
      return m.notFound;
    case Code.AlreadyExists:
      return e.rawMessage.includes("idempotency") ? m.changedRequest : m.exists;
    case Code.Aborted:
      return m.conflict;
    case Code.FailedPrecondition:
      if (e.rawMessage.includes("empty")) return m.empty;
      if (e.rawMessage.includes("purchasable")) return m.unpurchasable;
      if (e.rawMessage.includes("currency")) return m.currency;
      if (e.rawMessage.includes("50")) return m.full;
      return m.precondition;
    case Code.InvalidArgument:
      return e.rawMessage.includes("quantity") ? m.quantity : m.invalid;
    case Code.ResourceExhausted:
      return m.busy;
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return m.unreachable;
    default:
      return m.unknown;
  }
}

/** What went wrong, in the words of the form that met it when it knows the case, else as `explain` says. */
export function explainFor(error: unknown, known: Partial<Record<Code, Message>>): Message {
  return known[ConnectError.from(error).code] ?? explain(error);
}

/** Why an order failed or was cancelled, from its machine-readable `failure_reason` ("code: detail"). */
export function explainFailure(reason: string): Message {
  switch (reason.split(":")[0]) {
    case "payment_declined":
      return m.declined;
    case "insufficient_stock":
      return m.soldOut;
    case "not_purchasable":
      return m.offSale;
    case "cancelled":
      return m.cancelled;
    default:
      return m.failed;
  }
}
