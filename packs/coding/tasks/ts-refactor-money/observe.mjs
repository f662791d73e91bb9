import * as mod from './money.mjs';

observe('exports preserved', ({ keys }) => keys(mod));
observe('source exports the same names (Money interface too)', ({ file }) => file('money.ts'));
observe('duplication removed (size)/code lines', ({ file }) => file('money.ts'));
observe('duplication removed (size)/integer checks', ({ file }) => file('money.ts'));
observe('USD/123456789 cents', () => mod.formatUsd({ amount: 123456789, currency: 'USD' }));
observe('USD/-5 cents', () => mod.formatUsd({ amount: -5, currency: 'USD' }));
observe('EUR/123456 cents', () => mod.formatEur({ amount: 123456, currency: 'EUR' }));
observe('EUR/100 cents', () => mod.formatEur({ amount: 100, currency: 'EUR' }));
observe('GBP and formatAny/GBP', () => mod.formatGbp({ amount: 99900, currency: 'GBP' }));
observe('GBP and formatAny/any GBP', () => mod.formatAny({ amount: 100000, currency: 'GBP' }));
observe('GBP and formatAny/any JPY', () => mod.formatAny({ amount: 1, currency: 'JPY' }));
observe('errors/fractional cents', () => mod.formatUsd({ amount: 1.5, currency: 'USD' }));
observe('errors/wrong currency', () => mod.formatUsd({ amount: 1, currency: 'EUR' }));
observe('errors/sum of nothing', () => mod.sumMoney([]));
observe('errors/mixed currencies', () =>
  mod.sumMoney([{ amount: 1, currency: 'USD' }, { amount: 1, currency: 'EUR' }]));
observe('errors/fractional sum', () => mod.sumMoney([{ amount: 0.5, currency: 'USD' }]));
observe('sumMoney and SUPPORTED_CURRENCIES/sum', () =>
  mod.sumMoney([{ amount: 150, currency: 'EUR' }, { amount: 50, currency: 'EUR' }]));
observe('sumMoney and SUPPORTED_CURRENCIES/currencies', () => {
  const out = [];
  for (const c of mod.SUPPORTED_CURRENCIES) out[out.length] = c;
  return out;
});
