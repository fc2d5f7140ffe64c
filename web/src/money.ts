function digitsOf(currency: string): number {
  return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 0;
}

/** A price in minor units, formatted for `locale` the way people of that locale write it. */
export function formatMoney(amount: bigint, currency: string, locale: string): string {
  return new Intl.NumberFormat(locale, { style: "currency", currency }).format(
    Number(amount) / 10 ** digitsOf(currency),
  );
}

/**
 * An amount typed in the currency's major unit ("1200" yen, "12.50" dollars) in minor units, or undefined when
 * it is empty or not an amount of this currency (more decimals than it has, negative, not a number).
 */
export function toMinorUnits(typed: string, currency: string): bigint | undefined {
  const digits = digitsOf(currency);
  const match = /^(\d{1,15})(?:\.(\d*))?$/.exec(typed.trim().replace(/,/g, ""));
  if (!match || (match[2] ?? "").length > digits) return undefined;
  return BigInt(match[1]) * 10n ** BigInt(digits) + BigInt((match[2] ?? "").padEnd(digits, "0") || "0");
}

/** Minor units as the plain number a form field shows ("1200", "12.50"). */
export function fromMinorUnits(amount: bigint, currency: string): string {
  const digits = digitsOf(currency);
  if (digits === 0) return amount.toString();
  const scale = 10n ** BigInt(digits);
  const sign = amount < 0n ? "-" : "";
  const abs = amount < 0n ? -amount : amount;
  return `${sign}${abs / scale}.${(abs % scale).toString().padStart(digits, "0")}`;
}
