// Translations and the language switch. The language comes from the browser (navigator.languages)
// until the person picks one with the switch; the choice is kept in localStorage.

const MESSAGES = {
  en: {
    'lang.switch': 'Nederlands',
    'lang.switch.label': 'Deze pagina in het Nederlands',
    'loading': 'Loading…',
    'error.generic': 'Something went wrong. Please try again.',
    'error.network': 'The server could not be reached. Check your connection and try again.',
    'event.when': 'When',
    'event.where': 'Where',
    'notice.title': 'Privacy notice',
    'notice.deleted': 'All attendee data of this event is deleted on {date}.',
    'register.title': 'Register',
    'register.closed': 'Registration for this event is closed.',
    'register.details': 'Your details',
    'field.first_name': 'First name',
    'field.last_name': 'Last name',
    'field.email': 'E-mail address',
    'field.company': 'Company (optional)',
    'field.job_title': 'Job title (optional)',
    'field.phone': 'Phone (optional, international format such as +31 20 123 4567)',
    'field.country': 'Country (optional, two letters such as NL)',
    'sponsors.title': 'Sponsors',
    'sponsors.intro': 'Each sponsor receives your details only if you tick its box, and only when it scans your badge at its booth. Nothing is ticked for you.',
    'sponsors.fields': 'It would receive: {fields}.',
    'sponsors.policy': 'Privacy policy of {name}',
    'marketing.title': 'News from the organiser',
    'age.confirm': 'I am {age} years or older.',
    'register.submit': 'Register',
    'register.sending': 'Registering…',
    'register.done': 'You are registered',
    'register.badge': 'Your badge. Show it at the entrance and at sponsors’ booths. It holds no personal data, only a signed code.',
    'register.badge.alt': 'Your badge QR code',
    'register.print': 'Printable badge',
    'register.manage': 'Your personal manage link',
    'register.manage.advice': 'Keep this link to yourself and keep it safe: whoever has it can see and change your registration. With it you can change your choices, download, correct or erase your data at any time.',
    'register.mailed': 'We have also e-mailed you your badge and this link.',
    'register.not_mailed': 'We could not e-mail you just now: save this link before you leave the page.',
    'contact.first_name': 'first name', 'contact.last_name': 'last name', 'contact.email': 'e-mail address',
    'contact.company': 'company', 'contact.job_title': 'job title', 'contact.phone': 'phone', 'contact.country': 'country',
    'problem.invalid_email': 'Enter a valid e-mail address.',
    'problem.invalid_phone': 'Enter an international number such as +31 20 123 4567.',
    'problem.invalid_country': 'Enter a two-letter country code such as NL.',
    'problem.too_short': 'Please fill this in.',
    'problem.too_long': 'This is too long.',
    'problem.age_not_confirmed': 'Please confirm your age to register.',
    'problem.already_registered': 'This address is already registered for this event. We have e-mailed its manage link to it.',
    'problem.notice_outdated': 'The privacy notice has changed. Please read it again; the page has been updated.',
    'problem.registration_closed': 'Registration for this event is closed.',
    'problem.rate_limited': 'Too many attempts. Please wait a moment and try again.',
    'problem.email_taken': 'Another registration for this event uses this address.',
    'problem.not_found': 'This link does not work (any more). If the event is over, its data may have been deleted.',
    'form.invalid': 'Please correct the marked field.',
    'kiosk.title': 'Booth kiosk',
    'kiosk.pair': 'Pair this device',
    'kiosk.pair.intro': 'Enter the pairing code the organiser gave you for your booth.',
    'kiosk.code': 'Pairing code',
    'kiosk.device': 'Name of this device (optional)',
    'kiosk.pair.button': 'Pair',
    'kiosk.unpair': 'Unpair this device',
    'kiosk.scan': 'Scan a badge',
    'kiosk.input': 'Badge code (a USB scanner types here)',
    'kiosk.submit': 'Check badge',
    'kiosk.camera.start': 'Scan with the camera',
    'kiosk.camera.stop': 'Stop the camera',
    'kiosk.camera.none': 'This browser cannot read QR codes with the camera; use a USB scanner.',
    'kiosk.accepted': 'ACCEPTED',
    'kiosk.refused': 'REFUSED',
    'kiosk.leads': 'Your leads',
    'kiosk.leads.none': 'No leads yet.',
    'kiosk.rating': 'Rating',
    'kiosk.note': 'Note',
    'kiosk.save': 'Save',
    'kiosk.scans': '{count} scans',
    'reason.invalid_badge': 'Not a valid badge.',
    'reason.wrong_event': 'This badge is for another event.',
    'reason.unknown_badge': 'This badge is no longer valid.',
    'reason.outside_scan_window': 'Scanning is closed for this event.',
    'reason.restricted': 'This attendee has restricted the use of their data.',
    'reason.no_consent': 'This attendee has not agreed to share their details with you.',
    'problem.invalid_pairing_code': 'This pairing code is not valid (any more). Ask the organiser for a new one.',
    'problem.kiosk_revoked': 'This device has been unpaired by the organiser.',
    'problem.kiosk_token_expired': 'This device’s pairing has expired.',
    'problem.data_purged': 'This event’s attendee data has been deleted.',
    'manage.title': 'Your registration',
    'manage.badge': 'Your badge',
    'manage.consents': 'Your choices',
    'manage.consents.intro': 'Each choice takes effect at once. Withdrawing removes you from that sponsor’s leads and from future exports.',
    'manage.granted': 'Yes',
    'manage.withdraw_all': 'Withdraw all consents',
    'manage.history': 'History of your choices',
    'manage.history.granted': 'granted',
    'manage.history.withdrawn': 'withdrawn',
    'manage.saved': 'Saved.',
    'manage.marketing': 'News from the organiser',
    'manage.recipients': 'Sponsors that received your data',
    'manage.recipients.none': 'No sponsor has received your data in an export.',
    'manage.recipients.item': '{sponsor}, exported on {date}',
    'manage.download': 'Download my data (JSON)',
    'manage.correct': 'Correct my details',
    'manage.correct.save': 'Save corrections',
    'manage.restrict': 'Restrict processing',
    'manage.restrict.intro': 'While restricted, sponsors cannot scan your badge and you are left out of lead lists and exports. Your data is kept.',
    'manage.restrict.on': 'Restrict processing of my data',
    'manage.restrict.off': 'Lift the restriction',
    'manage.restricted': 'Processing of your data is restricted since {date}.',
    'manage.erase': 'Erase my data',
    'manage.erase.intro': 'This deletes your registration, your choices and their history, your badge and your leads at once. It cannot be undone.',
    'manage.erase.confirm': 'I understand that this cannot be undone',
    'manage.erase.button': 'Erase everything now',
    'manage.erased': 'Your data has been erased.',
    'manage.erased.recipients': 'These sponsors had received your data; the organiser has been asked to tell them to delete it:',
    'manage.deleted_on': 'All your data is deleted automatically on {date}.',
  },
  nl: {
    'lang.switch': 'English',
    'lang.switch.label': 'This page in English',
    'loading': 'Laden…',
    'error.generic': 'Er ging iets mis. Probeer het opnieuw.',
    'error.network': 'De server is niet bereikbaar. Controleer je verbinding en probeer het opnieuw.',
    'event.when': 'Wanneer',
    'event.where': 'Waar',
    'notice.title': 'Privacyverklaring',
    'notice.deleted': 'Alle deelnemersgegevens van dit evenement worden op {date} gewist.',
    'register.title': 'Aanmelden',
    'register.closed': 'Aanmelden voor dit evenement is gesloten.',
    'register.details': 'Je gegevens',
    'field.first_name': 'Voornaam',
    'field.last_name': 'Achternaam',
    'field.email': 'E-mailadres',
    'field.company': 'Bedrijf (optioneel)',
    'field.job_title': 'Functie (optioneel)',
    'field.phone': 'Telefoon (optioneel, internationaal zoals +31 20 123 4567)',
    'field.country': 'Land (optioneel, twee letters zoals NL)',
    'sponsors.title': 'Sponsors',
    'sponsors.intro': 'Een sponsor krijgt je gegevens alleen als je zijn vakje aanvinkt, en alleen als hij je badge scant bij zijn stand. Er is niets voor je aangevinkt.',
    'sponsors.fields': 'Hij zou ontvangen: {fields}.',
    'sponsors.policy': 'Privacybeleid van {name}',
    'marketing.title': 'Nieuws van de organisator',
    'age.confirm': 'Ik ben {age} jaar of ouder.',
    'register.submit': 'Aanmelden',
    'register.sending': 'Bezig met aanmelden…',
    'register.done': 'Je bent aangemeld',
    'register.badge': 'Je badge. Laat hem zien bij de ingang en bij de stands van sponsors. Hij bevat geen persoonsgegevens, alleen een ondertekende code.',
    'register.badge.alt': 'QR-code van je badge',
    'register.print': 'Afdrukbare badge',
    'register.manage': 'Je persoonlijke beheerlink',
    'register.manage.advice': 'Houd deze link voor jezelf en bewaar hem goed: wie hem heeft, kan je aanmelding zien en wijzigen. Hiermee kun je altijd je keuzes wijzigen en je gegevens downloaden, verbeteren of wissen.',
    'register.mailed': 'We hebben je badge en deze link ook gemaild.',
    'register.not_mailed': 'We konden je nu niet mailen: bewaar deze link voordat je de pagina verlaat.',
    'contact.first_name': 'voornaam', 'contact.last_name': 'achternaam', 'contact.email': 'e-mailadres',
    'contact.company': 'bedrijf', 'contact.job_title': 'functie', 'contact.phone': 'telefoon', 'contact.country': 'land',
    'problem.invalid_email': 'Vul een geldig e-mailadres in.',
    'problem.invalid_phone': 'Vul een internationaal nummer in, zoals +31 20 123 4567.',
    'problem.invalid_country': 'Vul een landcode van twee letters in, zoals NL.',
    'problem.too_short': 'Vul dit in.',
    'problem.too_long': 'Dit is te lang.',
    'problem.age_not_confirmed': 'Bevestig je leeftijd om je aan te melden.',
    'problem.already_registered': 'Dit adres is al aangemeld voor dit evenement. We hebben de beheerlink ernaartoe gemaild.',
    'problem.notice_outdated': 'De privacyverklaring is gewijzigd. Lees haar opnieuw; de pagina is bijgewerkt.',
    'problem.registration_closed': 'Aanmelden voor dit evenement is gesloten.',
    'problem.rate_limited': 'Te veel pogingen. Wacht even en probeer het opnieuw.',
    'problem.email_taken': 'Een andere aanmelding voor dit evenement gebruikt dit adres.',
    'problem.not_found': 'Deze link werkt niet (meer). Als het evenement voorbij is, zijn de gegevens mogelijk gewist.',
    'form.invalid': 'Verbeter het gemarkeerde veld.',
    'kiosk.title': 'Standkiosk',
    'kiosk.pair': 'Dit apparaat koppelen',
    'kiosk.pair.intro': 'Vul de koppelcode in die je van de organisator voor je stand hebt gekregen.',
    'kiosk.code': 'Koppelcode',
    'kiosk.device': 'Naam van dit apparaat (optioneel)',
    'kiosk.pair.button': 'Koppelen',
    'kiosk.unpair': 'Dit apparaat ontkoppelen',
    'kiosk.scan': 'Badge scannen',
    'kiosk.input': 'Badgecode (een USB-scanner typt hier)',
    'kiosk.submit': 'Badge controleren',
    'kiosk.camera.start': 'Scannen met de camera',
    'kiosk.camera.stop': 'Camera stoppen',
    'kiosk.camera.none': 'Deze browser kan geen QR-codes lezen met de camera; gebruik een USB-scanner.',
    'kiosk.accepted': 'GEACCEPTEERD',
    'kiosk.refused': 'GEWEIGERD',
    'kiosk.leads': 'Je leads',
    'kiosk.leads.none': 'Nog geen leads.',
    'kiosk.rating': 'Waardering',
    'kiosk.note': 'Notitie',
    'kiosk.save': 'Opslaan',
    'kiosk.scans': '{count} scans',
    'reason.invalid_badge': 'Geen geldige badge.',
    'reason.wrong_event': 'Deze badge is voor een ander evenement.',
    'reason.unknown_badge': 'Deze badge is niet meer geldig.',
    'reason.outside_scan_window': 'Scannen is gesloten voor dit evenement.',
    'reason.restricted': 'Deze deelnemer heeft het gebruik van zijn gegevens beperkt.',
    'reason.no_consent': 'Deze deelnemer heeft geen toestemming gegeven om zijn gegevens met jou te delen.',
    'problem.invalid_pairing_code': 'Deze koppelcode is niet (meer) geldig. Vraag de organisator om een nieuwe.',
    'problem.kiosk_revoked': 'De organisator heeft dit apparaat ontkoppeld.',
    'problem.kiosk_token_expired': 'De koppeling van dit apparaat is verlopen.',
    'problem.data_purged': 'De deelnemersgegevens van dit evenement zijn gewist.',
    'manage.title': 'Je aanmelding',
    'manage.badge': 'Je badge',
    'manage.consents': 'Je keuzes',
    'manage.consents.intro': 'Elke keuze geldt meteen. Intrekken haalt je uit de leads van die sponsor en uit toekomstige exports.',
    'manage.granted': 'Ja',
    'manage.withdraw_all': 'Alle toestemmingen intrekken',
    'manage.history': 'Geschiedenis van je keuzes',
    'manage.history.granted': 'gegeven',
    'manage.history.withdrawn': 'ingetrokken',
    'manage.saved': 'Opgeslagen.',
    'manage.marketing': 'Nieuws van de organisator',
    'manage.recipients': 'Sponsors die je gegevens hebben ontvangen',
    'manage.recipients.none': 'Geen sponsor heeft je gegevens in een export ontvangen.',
    'manage.recipients.item': '{sponsor}, geëxporteerd op {date}',
    'manage.download': 'Mijn gegevens downloaden (JSON)',
    'manage.correct': 'Mijn gegevens verbeteren',
    'manage.correct.save': 'Verbeteringen opslaan',
    'manage.restrict': 'Verwerking beperken',
    'manage.restrict.intro': 'Zolang de verwerking beperkt is, kunnen sponsors je badge niet scannen en sta je niet in leadlijsten en exports. Je gegevens blijven bewaard.',
    'manage.restrict.on': 'Verwerking van mijn gegevens beperken',
    'manage.restrict.off': 'Beperking opheffen',
    'manage.restricted': 'De verwerking van je gegevens is beperkt sinds {date}.',
    'manage.erase': 'Mijn gegevens wissen',
    'manage.erase.intro': 'Dit wist in één keer je aanmelding, je keuzes en hun geschiedenis, je badge en je leads. Dit kan niet ongedaan worden gemaakt.',
    'manage.erase.confirm': 'Ik begrijp dat dit niet ongedaan kan worden gemaakt',
    'manage.erase.button': 'Nu alles wissen',
    'manage.erased': 'Je gegevens zijn gewist.',
    'manage.erased.recipients': 'Deze sponsors hadden je gegevens ontvangen; de organisator is gevraagd hun te laten weten dat ze die moeten wissen:',
    'manage.deleted_on': 'Al je gegevens worden automatisch gewist op {date}.',
  },
};

const STORAGE_KEY = 'consentry.lang';

function browserLanguage() {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (stored && MESSAGES[stored]) return stored;
  for (const tag of navigator.languages || [navigator.language || 'en']) {
    const base = tag.toLowerCase().split('-')[0];
    if (MESSAGES[base]) return base;
  }
  return 'en';
}

let current = browserLanguage();
const listeners = [];

export function lang() {
  return current;
}

/** The message `key` in the current language, with `{name}` placeholders filled in. */
export function t(key, values = {}) {
  const text = MESSAGES[current][key] ?? MESSAGES.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

/** The message for a problem+json answer: its code's translation, else the server's detail. */
export function problemText(problem) {
  const key = `problem.${problem?.code}`;
  if (MESSAGES[current][key]) return t(key);
  return problem?.detail || t('error.generic');
}

/** Fill every `[data-i18n]` element under `root` and set the page language. */
export function translate(root = document) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
}

/** Call `render` now and whenever the language changes. */
export function onLanguage(render) {
  listeners.push(render);
}

/** Wire the language switch button (`#lang-switch`). */
export function setUpSwitch() {
  const button = document.getElementById('lang-switch');
  if (!button) return;
  // The button names the other language in that language ("Nederlands", "English").
  const label = () => {
    button.textContent = t('lang.switch');
    button.title = t('lang.switch.label');
    button.lang = current === 'en' ? 'nl' : 'en';
  };
  label();
  button.addEventListener('click', () => {
    current = current === 'en' ? 'nl' : 'en';
    localStorage.setItem(STORAGE_KEY, current);
    translate();
    label();
    for (const render of listeners) render();
  });
}

/** A date and time as people at the venue read it. */
export function formatDateTime(iso, timeZone) {
  return new Intl.DateTimeFormat(current === 'nl' ? 'nl-NL' : 'en-GB', {
    dateStyle: 'full', timeStyle: 'short', timeZone,
  }).format(new Date(iso));
}

export function formatDate(iso, timeZone) {
  return new Intl.DateTimeFormat(current === 'nl' ? 'nl-NL' : 'en-GB', {
    dateStyle: 'long', timeZone,
  }).format(new Date(iso));
}
