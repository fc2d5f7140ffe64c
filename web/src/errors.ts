import { Code, ConnectError } from "@connectrpc/connect";

/** What went wrong, in words a shopper understands; never a raw code. */
export function explain(error: unknown): string {
  const e = ConnectError.from(error);
  switch (e.code) {
    case Code.Unauthenticated:
      return "Your session has expired. Please sign in again.";
    case Code.NotFound:
      return "This item is no longer available.";
    case Code.AlreadyExists:
      return "This checkout was already placed with different details. Please review your order and try again.";
    case Code.FailedPrecondition:
      if (e.rawMessage.includes("empty")) return "Your cart is empty.";
      if (e.rawMessage.includes("purchasable")) return "Some items in your cart are no longer available.";
      return e.rawMessage.includes("currency")
        ? "Items priced in different currencies cannot share one cart."
        : "Your cart is full: it holds at most 50 different items.";
    case Code.InvalidArgument:
      return "That quantity is not possible: a line holds 1 to 99 units.";
    case Code.ResourceExhausted:
      return "Too many requests just now. Please wait a moment and try again.";
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return "The shop cannot be reached right now. Please try again in a moment.";
    default:
      return "Something went wrong. Please try again.";
  }
}

/** Why an order failed or was cancelled, from its machine-readable `failure_reason` ("code: detail"). */
export function explainFailure(reason: string): string {
  const code = reason.split(":")[0];
  switch (code) {
    case "payment_declined":
      return "Your card was declined. Nothing was charged, and your cart is kept: try another card.";
    case "insufficient_stock":
      return "Some items sold out while you were checking out. Nothing was charged, and your cart is kept.";
    case "not_purchasable":
      return "Some items are no longer on sale. Nothing was charged, and your cart is kept.";
    case "cancelled":
      return "You cancelled this order. Nothing was charged.";
    default:
      return "The order could not be completed. Nothing was charged, and your cart is kept.";
  }
}
