/** A price in minor units, formatted for `locale` the way people of that locale write it. */
export function formatMoney(amount: bigint, currency: string, locale: string): string {
  const format = new Intl.NumberFormat(locale, { style: "currency", currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 0;
  return format.format(Number(amount) / 10 ** digits);
}
