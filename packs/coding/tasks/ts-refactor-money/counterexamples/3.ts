// Formatting helpers for a billing page.

export interface Money {
  amount: number; // in cents
  currency: string;
}

export function formatUsd(m: Money): string {
  if (!Number.isInteger(m.amount)) {
    throw new TypeError("amount must be an integer number of cents");
  }
  if (m.currency !== "USD") {
    throw new RangeError("expected USD, got " + m.currency);
  }
  const negative = m.amount < 0;
  const cents = Math.abs(m.amount);
  const whole = Math.floor(cents / 100).toString();
  const frac = (cents % 100).toString().padStart(2, "0");
  let grouped = "";
  for (let i = 0; i < whole.length; i++) {
    if (i > 0 && (whole.length - i) % 3 === 0) {
      grouped += ",";
    }
    grouped += whole[i];
  }
  return (negative ? "-" : "") + "$" + grouped + "." + frac;
}

export function formatEur(m: Money): string {
  if (!Number.isInteger(m.amount)) {
    throw new TypeError("amount must be an integer number of cents");
  }
  if (m.currency !== "EUR") {
    throw new RangeError("expected EUR, got " + m.currency);
  }
  const negative = m.amount < 0;
  const cents = Math.abs(m.amount);
  const whole = Math.floor(cents / 100).toString();
  const frac = (cents % 100).toString().padStart(2, "0");
  let grouped = "";
  for (let i = 0; i < whole.length; i++) {
    if (i > 0 && (whole.length - i) % 3 === 0) {
      grouped += ".";
    }
    grouped += whole[i];
  }
  return (negative ? "-" : "") + grouped + "," + frac + " \u20ac";
}

export function formatGbp(m: Money): string {
  if (!Number.isInteger(m.amount)) {
    throw new TypeError("amount must be an integer number of cents");
  }
  if (m.currency !== "GBP") {
    throw new RangeError("expected GBP, got " + m.currency);
  }
  const negative = m.amount < 0;
  const cents = Math.abs(m.amount);
  const whole = Math.floor(cents / 100).toString();
  const frac = (cents % 100).toString().padStart(2, "0");
  let grouped = "";
  for (let i = 0; i < whole.length; i++) {
    if (i > 0 && (whole.length - i) % 3 === 0) {
      grouped += ",";
    }
    grouped += whole[i];
  }
  return (negative ? "-" : "") + "\u00a3" + grouped + "." + frac;
}

export function formatAny(m: Money): string {
  if (m.currency === "USD") {
    return formatUsd(m);
  } else if (m.currency === "EUR") {
    return formatEur(m);
  } else if (m.currency === "GBP") {
    return formatGbp(m);
  }
  throw new RangeError("unsupported currency " + m.currency);
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
    if (!Number.isInteger(it.amount)) {
      throw new TypeError("amount must be an integer number of cents");
    }
    amount += it.amount;
  }
  return { amount, currency };
}

export const SUPPORTED_CURRENCIES: readonly string[] = ["USD", "EUR", "GBP"];
