// A consent history entry in plain words, for the manage page and the readable copy of one's data:
// "You allowed Acme Analytics on 3 May 2026 at 14:02, when you registered."

import { t, tNodes, formatDateTime } from './i18n.js';

/** What each purpose is called: the sponsor's name, or the organiser's news. */
export function purposeNames(consents) {
  return new Map(consents.map((c) => [c.purpose, c.sponsor ?? t('manage.marketing')]));
}

/** `record` (a ledger entry) as a sentence: who allowed or withdrew what, when, and how. An entry
 *  says where it was made (`occasion`); older entries do not, and for them the grants made with
 *  the registration are those that carry its own time (`registeredAt`). */
export function historyLine(record, names, timeZone, registeredAt) {
  const atRegistration = record.occasion
    ? record.occasion === 'registration'
    : record.granted && record.recorded_at === registeredAt;
  const how = atRegistration
    ? t('manage.history.how.registration')
    : t(`manage.history.how.${record.occasion === 'booth' ? 'booth' : record.channel}`);
  return tNodes(record.granted ? 'manage.history.granted.line' : 'manage.history.withdrawn.line', {
    purpose: names.get(record.purpose) ?? record.purpose,
    date: formatDateTime(record.recorded_at, timeZone),
    how,
  });
}
