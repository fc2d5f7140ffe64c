import type { ComponentType } from "react";
import { useParams } from "react-router";

/** A page about one thing, named by the URL's `:id`: a fresh one (no state carried over) for each. */
export function WithId({ page: Page }: { page: ComponentType<{ id: string }> }) {
  const { id = "" } = useParams();
  return <Page key={id} id={id} />;
}
