import { useSyncExternalStore } from "react";

/**
 * The cart of a shopper who has not signed in: SKU ids and quantities in this browser's localStorage (no price,
 * no name: those are read from the catalog when shown), shared by every tab, and moved into the account's cart
 * when the shopper signs in ({@link takeGuestCart}). Held to the account cart's limits, so that nothing kept
 * here is refused for its size when it moves.
 */
export interface GuestLine {
  skuId: string;
  quantity: number;
}

const KEY = "ec.guest-cart";
/** The account cart's limits (order.v1.CartService): lines, and units of one SKU. */
export const MAX_LINES = 50;
export const MAX_QUANTITY = 99;

const listeners = new Set<() => void>();
let cached: { raw: string | null; lines: GuestLine[] } = { raw: null, lines: [] };

/** The lines as stored; anything unreadable there (edited by hand, another version's) counts as no cart. */
function read(): GuestLine[] {
  const raw = localStorage.getItem(KEY);
  if (raw === cached.raw) return cached.lines;
  let lines: GuestLine[] = [];
  try {
    const parsed: unknown = raw ? JSON.parse(raw) : [];
    if (Array.isArray(parsed)) {
      lines = parsed
        .filter(
          (line): line is GuestLine =>
            typeof line === "object" &&
            line !== null &&
            typeof (line as GuestLine).skuId === "string" &&
            Number.isInteger((line as GuestLine).quantity) &&
            (line as GuestLine).quantity >= 1,
        )
        .slice(0, MAX_LINES)
        .map(({ skuId, quantity }) => ({ skuId, quantity: Math.min(quantity, MAX_QUANTITY) }));
    }
  } catch {
    lines = [];
  }
  cached = { raw, lines };
  return lines;
}

function write(lines: GuestLine[]) {
  if (lines.length === 0) localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, JSON.stringify(lines));
  listeners.forEach((listener) => {
    listener();
  });
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  // Another tab's change arrives as a storage event.
  const onStorage = (event: StorageEvent) => {
    if (event.key === KEY || event.key === null) listener();
  };
  window.addEventListener("storage", onStorage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener("storage", onStorage);
  };
}

/** Why a line could not be added or changed. */
export type GuestCartRefusal = "full" | "quantity";

/** The guest cart's lines, and its changes; every component using it shows the same lines, in every tab. */
export function useGuestCart() {
  const lines = useSyncExternalStore(subscribe, read);
  return {
    lines,
    units: lines.reduce((sum, line) => sum + line.quantity, 0),
    /** Adds `quantity` units of a SKU (to its line if it has one), unless the cart's limits say no. */
    add(skuId: string, quantity = 1): GuestCartRefusal | null {
      const current = read();
      const line = current.find((l) => l.skuId === skuId);
      if (!line && current.length >= MAX_LINES) return "full";
      const next = (line?.quantity ?? 0) + quantity;
      if (next > MAX_QUANTITY) return "quantity";
      write(
        line
          ? current.map((l) => (l.skuId === skuId ? { skuId, quantity: next } : l))
          : [...current, { skuId, quantity }],
      );
      return null;
    },
    setQuantity(skuId: string, quantity: number) {
      if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) return;
      write(read().map((l) => (l.skuId === skuId ? { skuId, quantity } : l)));
    },
    remove(skuId: string) {
      write(read().filter((l) => l.skuId !== skuId));
    },
  };
}

/**
 * Hands the guest cart's lines to `move` (which adds them to the account's cart and answers the ones it could
 * not) and empties it, once, whichever tabs are open: the tabs take turns (the Web Locks API), and each reads
 * the cart only once it holds the lock, so a cart two tabs see on signing in moves once. What `move` could not
 * add is answered, for the shopper to be told.
 */
export async function takeGuestCart<T>(move: (lines: GuestLine[]) => Promise<T[]>): Promise<T[]> {
  const run = async () => {
    const lines = read();
    if (lines.length === 0) return [];
    const failed = await move(lines);
    write([]);
    return failed;
  };
  // Browsers without Web Locks (none the shop supports lacks them) run it unguarded.
  if (!("locks" in navigator)) return run();
  return navigator.locks.request("ec.guest-cart", run);
}
