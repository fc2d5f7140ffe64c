import { Code, ConnectError } from "@connectrpc/connect";

import { type Message, messages } from "./i18n";

const m = messages({
  expired: {
    en: "Your session has expired. Please sign in again.",
    ja: "セッションの有効期限が切れました。もう一度ログインしてください。",
  },
  forbidden: { en: "Your account is not allowed to do this.", ja: "このアカウントではこの操作はできません。" },
  notFound: {
    en: "This could not be found: it may have been removed.",
    ja: "見つかりませんでした。削除された可能性があります。",
  },
  exists: { en: "That is already taken.", ja: "すでに使われています。" },
  precondition: { en: "This cannot be done in the current state.", ja: "現在の状態ではこの操作はできません。" },
  invalid: { en: "Please check what you entered.", ja: "入力内容を確認してください。" },
  conflict: {
    en: "Someone else changed this in the meantime. Reload it and try again.",
    ja: "ほかの人が先に変更しました。読み込み直して、もう一度お試しください。",
  },
  busy: {
    en: "Too many requests just now. Please wait a moment and try again.",
    ja: "リクエストが多すぎます。しばらく待ってからお試しください。",
  },
  unreachable: {
    en: "The shop cannot be reached right now. Please try again in a moment.",
    ja: "現在ショップに接続できません。しばらくしてからお試しください。",
  },
  unknown: { en: "Something went wrong. Please try again.", ja: "問題が発生しました。もう一度お試しください。" },
  offSaleItem: { en: "This item is no longer on sale.", ja: "この商品は販売を終了しました。" },
  cartRefused: {
    en: "This cannot join your cart: a cart holds at most 50 different items, all priced in one currency.",
    ja: "カートに追加できません。カートには同じ通貨の商品を最大50品目まで入れられます。",
  },
  quantity: {
    en: "That quantity is not possible: a line holds 1 to 99 units.",
    ja: "数量は1〜99の範囲で指定してください。",
  },
  cartNotReady: {
    en: "Your cart is empty, or holds items that are no longer on sale: review your cart.",
    ja: "カートが空か、販売終了した商品が入っています。カートを確認してください。",
  },
  changedRequest: {
    en: "This checkout was already placed with different details. Please review your order and try again.",
    ja: "この注文は別の内容ですでに送信されています。内容を確認して、もう一度お試しください。",
  },
  checkAddress: {
    en: "Please complete the shipping address and the card number.",
    ja: "お届け先とカード番号を入力してください。",
  },
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
  cancelled: {
    en: "You cancelled this order. Nothing was charged.",
    ja: "この注文はキャンセルされました。請求はされていません。",
  },
  failed: {
    en: "The order could not be completed. Nothing was charged, and your cart is kept.",
    ja: "注文を完了できませんでした。請求はされておらず、カートはそのままです。",
  },
});

/** The session has expired: sign in again. */
export const SESSION_EXPIRED = m.expired;

/**
 * What went wrong, in words people understand (translate it with `t`); never a raw code. The code says what
 * kind of failure it was; what it means for a given call is that call's to say (`explainFor`), never read
 * from the server's message, which is for developers.
 */
export function explain(error: unknown): Message {
  switch (ConnectError.from(error).code) {
    case Code.Unauthenticated:
      return m.expired;
    case Code.PermissionDenied:
      return m.forbidden;
    case Code.NotFound:
      return m.notFound;
    case Code.AlreadyExists:
      return m.exists;
    case Code.Aborted:
      return m.conflict;
    case Code.FailedPrecondition:
      return m.precondition;
    case Code.InvalidArgument:
      return m.invalid;
    case Code.ResourceExhausted:
      return m.busy;
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return m.unreachable;
    default:
      return m.unknown;
  }
}

type Known = Partial<Record<Code, Message>>;

/** What AddCartItem's and UpdateCartItem's errors mean to a shopper (cart_service.proto). */
export const CART_ERRORS: Known = {
  [Code.NotFound]: m.offSaleItem,
  [Code.FailedPrecondition]: m.cartRefused,
  [Code.InvalidArgument]: m.quantity,
};

/** What CreateOrder's errors mean to a shopper (order_service.proto). */
export const CHECKOUT_ERRORS: Known = {
  [Code.FailedPrecondition]: m.cartNotReady,
  [Code.AlreadyExists]: m.changedRequest,
  [Code.InvalidArgument]: m.checkAddress,
};

/** What went wrong, in the words of the form that met it when it knows the case, else as `explain` says. */
export function explainFor(error: unknown, known: Known): Message {
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
