import { InMemoryWebStorage, UserManager, WebStorageStateStore } from "oidc-client-ts";

import type { PlatformConfig } from "./config";

/** Where the issuer sends the browser back with a code (one of the client's registered redirect URIs). */
export const CALLBACK_PATH = "/callback";

/**
 * The authorization code flow with PKCE against the configured issuer. Tokens live in memory only: a reload
 * needs signing in again (one click, and no password when the issuer remembers the login). They are renewed
 * with the refresh token before they expire. Only the short-lived state of a sign-in in progress (PKCE
 * verifier, nonce, return path) is kept in sessionStorage, so it survives the round trip through the login
 * pages and goes with the tab.
 */
export function userManager(config: PlatformConfig): UserManager | null {
  if (!config.issuer) return null;
  const origin = window.location.origin;
  return new UserManager({
    authority: config.issuer,
    client_id: config.clientId,
    redirect_uri: origin + CALLBACK_PATH,
    post_logout_redirect_uri: origin + CALLBACK_PATH,
    response_type: "code",
    scope: "openid offline_access profile email shop backoffice",
    extraQueryParams: { audience: config.audience },
    userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
    stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
    automaticSilentRenew: true,
  });
}
