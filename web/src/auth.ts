import { InMemoryWebStorage, UserManager, WebStorageStateStore } from "oidc-client-ts";

import type { PlatformConfig } from "./config";

/** Where the issuer sends the browser back with a code (one of the client's registered redirect URIs). */
export const CALLBACK_PATH = "/callback";

/** Where the issuer answers a silent sign-in, in a hidden frame (web/silent-callback.html; registered too). */
export const SILENT_CALLBACK_PATH = "/silent-callback.html";

/**
 * The authorization code flow with PKCE against the configured issuer. Tokens live in memory only, and no
 * refresh token is asked for: the page holds an access token and an ID token for their hour, nothing a script
 * could carry away outlives them. What keeps the shopper signed in is the issuer's own session cookie
 * (HttpOnly, on the issuer's origin): after a reload, in a new tab, and before the tokens expire, the app
 * signs in again silently (`prompt=none` in a hidden frame that ends on SILENT_CALLBACK_PATH), which works
 * while that session lasts (until the browser closes, or longer with "keep me signed in") and fails once the
 * shopper signs out anywhere. docs/security.md has the threat model. Only the short-lived state of a sign-in in
 * progress (PKCE verifier, nonce, return path) is kept in sessionStorage, so it survives the round trip through
 * the login pages and goes with the tab.
 */
export function userManager(config: PlatformConfig): UserManager | null {
  if (!config.issuer) return null;
  const origin = window.location.origin;
  return new UserManager({
    authority: config.issuer,
    client_id: config.clientId,
    redirect_uri: origin + CALLBACK_PATH,
    silent_redirect_uri: origin + SILENT_CALLBACK_PATH,
    post_logout_redirect_uri: origin + CALLBACK_PATH,
    response_type: "code",
    scope: "openid profile email shop backoffice",
    extraQueryParams: { audience: config.audience },
    userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
    stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
    automaticSilentRenew: true,
  });
}
