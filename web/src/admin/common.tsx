import type { ReactNode } from "react";

import { useAnswers } from "../api";
import { InventoryService } from "../gen/product/v1/inventory_service_pb";
import { ProductService } from "../gen/product/v1/product_service_pb";

/** How many rows a list page asks for at a time. */
export const PAGE_SIZE = 20;

/** The value of a whole-number field the browser has validated (`step={1}`), which may be written "1e3". */
export function wholeNumber(value: string): bigint {
  return BigInt(Number(value));
}

/** A wide table, scrolled sideways on its own on a narrow screen (focusable, so a keyboard can scroll it too). */
export function Scroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    // eslint-disable-next-line jsx-a11y/no-noninteractive-tabindex -- a region that scrolls must take focus, or a keyboard cannot scroll it (axe: scrollable-region-focusable)
    <div className="scroll" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

/**
 * After a change to the catalog or to stock: every cached answer of the product and inventory services (the back
 * office's lists, and the storefront's pages an admin may have open, whatever they ask) is marked stale, and the
 * ones on screen are fetched again; carts, orders and accounts are left alone. A mutation's `onSuccess` returns
 * the promise, so the mutation stays pending until the screen shows its result.
 */
export function useCatalogChanged() {
  const answers = useAnswers();
  return () => answers.refreshServices(ProductService, InventoryService);
}
