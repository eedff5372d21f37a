// The page /b, which a phone's own camera opens from a badge's QR code (`/b#<token>`): it says
// what the badge is and how the attendee manages their choices. The token in the fragment never
// reached the server and is not read here; it is taken out of the address bar and the history.

import { setUpSwitch, translate } from './i18n.js';

if (location.hash) history.replaceState(null, '', location.pathname);
translate();
setUpSwitch();
