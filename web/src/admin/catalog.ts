import { type Category, ProductStatus } from "../gen/product/v1/types_pb";
import { type Message, messages } from "../i18n";

const m = messages({
  unknown: { en: "Unknown", ja: "不明" },
  draft: { en: "Draft", ja: "下書き" },
  published: { en: "Published", ja: "公開中" },
  hidden: { en: "Hidden", ja: "非公開" },
});

/** A product's status in words. */
export const PRODUCT_STATUS: Record<ProductStatus, Message> = {
  [ProductStatus.UNSPECIFIED]: m.unknown,
  [ProductStatus.DRAFT]: m.draft,
  [ProductStatus.PUBLISHED]: m.published,
  [ProductStatus.HIDDEN]: m.hidden,
};

/** Every category of the tree in tree order, each named by its path ("Tea › Green tea") to tell namesakes apart. */
export function categoryChoices(tree: Category[], parents = ""): { id: string; label: string }[] {
  return tree.flatMap((category) => {
    const label = parents + category.name;
    return [{ id: category.id, label }, ...categoryChoices(category.children, `${label} › `)];
  });
}
