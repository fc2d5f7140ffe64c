import { Code, ConnectError } from "@connectrpc/connect";

/** What went wrong, in words a shopper understands; never a raw code. */
export function explain(error: unknown): string {
  const e = ConnectError.from(error);
  switch (e.code) {
    case Code.Unauthenticated:
      return "Your session has expired. Please sign in again.";
    case Code.NotFound:
      return "This item is no longer available.";
    case Code.FailedPrecondition:
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
