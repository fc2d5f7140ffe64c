import { UserManager } from "oidc-client-ts";

import { SILENT_CALLBACK_PATH } from "./auth";

/**
 * The page the issuer answers a silent sign-in on (auth.ts), inside the hidden frame the app opened: it hands
 * the answer to the app's window (same origin only), which checks it and exchanges the code. Handing it on
 * reads none of the client's settings, so these name only this page.
 */
const here = window.location.origin + SILENT_CALLBACK_PATH;
void new UserManager({ authority: window.location.origin, client_id: "storefront", redirect_uri: here })
  .signinSilentCallback()
  .catch(() => undefined); // opened outside a frame: nothing to hand on
