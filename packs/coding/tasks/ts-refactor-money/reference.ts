// Formatting helpers for a billing page.

export interface Money {
  amount: number; // in cents
  currency: string;
}

interface Style {
  prefix: string;
  suffix: string;
  group: string;
  decimal: string;
}

const STYLES: Record<string, Style> = {
  USD: { prefix: "$", suffix: "", group: ",", decimal: "." },
  EUR: { prefix: "", suffix: " \u20ac", group: ".", decimal: "," },
  GBP: { prefix: "\u00a3", suffix: "", group: ",", decimal: "." },
};

function checkAmount(amount: number): void {
  if (!Number.isInteger(amount)) {
    throw new TypeError("amount must be an integer number of cents");
  }
}

function format(m: Money, currency: string): string {
  checkAmount(m.amount);
  if (m.currency !== currency) {
    throw new RangeError("expected " + currency + ", got " + m.currency);
  }
  const style = STYLES[currency];
  const cents = Math.abs(m.amount);
  const whole = Math.floor(cents / 100)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, style.group);
  const frac = (cents % 100).toString().padStart(2, "0");
  const sign = m.amount < 0 ? "-" : "";
  return sign + style.prefix + whole + style.decimal + frac + style.suffix;
}

export const formatUsd = (m: Money): string => format(m, "USD");
export const formatEur = (m: Money): string => format(m, "EUR");
export const formatGbp = (m: Money): string => format(m, "GBP");

export function formatAny(m: Money): string {
  if (!(m.currency in STYLES)) {
    throw new RangeError("unsupported currency " + m.currency);
  }
  return format(m, m.currency);
}

export function sumMoney(items: Money[]): Money {
  if (items.length === 0) {
    throw new RangeError("nothing to sum");
  }
  const currency = items[0].currency;
  let amount = 0;
  for (const it of items) {
    if (it.currency !== currency) {
      throw new RangeError("mixed currencies: " + currency + " and " + it.currency);
    }
    checkAmount(it.amount);
    amount += it.amount;
  }
  return { amount, currency };
}

export const SUPPORTED_CURRENCIES: readonly string[] = Object.keys(STYLES);
