import { useQueryClient } from "@tanstack/react-query";
import type { ReactNode } from "react";

/** How many rows a list page asks for at a time. */
export const PAGE_SIZE = 20;

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
