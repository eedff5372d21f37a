// The country field: every ISO 3166-1 country the server's rule accepts (`GET /api/v1/countries`),
// named and sorted in the page's language by the browser's own country names (Intl.DisplayNames,
// from the Unicode CLDR), so that typing "Ne" finds the Netherlands and nobody types `NE` (Niger)
// by mistake. The value sent is the two-letter code.

import { api, h } from './api.js';
import { lang, t } from './i18n.js';

let codes = null;

/** The country codes, fetched once per page. */
export async function loadCountries() {
  codes ??= (await api('GET', '/countries')).countries;
  return codes;
}

/** A `<select>` for the country field, filled by `fillCountries`. */
export function countrySelect(attributes) {
  return h('select', { ...attributes, autocomplete: 'country' });
}

/** Fill `select` with "none" and every country by its name in the current language, keeping
 *  `chosen` (a code) selected. */
export function fillCountries(select, chosen = select.value) {
  const names = new Intl.DisplayNames([lang()], { type: 'region', fallback: 'code' });
  const collator = new Intl.Collator(lang());
  const countries = (codes ?? [])
    .map((code) => ({ code, name: names.of(code) ?? code }))
    .sort((a, b) => collator.compare(a.name, b.name));
  select.replaceChildren(
    h('option', { value: '' }, t('field.country.none')),
    ...countries.map(({ code, name }) => h('option', { value: code }, name)));
  select.value = chosen ?? '';
}
