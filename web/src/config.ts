/** Where the platform is, from the `/config.json` that `ec dev` (or any host of this build) serves beside the app. */
export interface PlatformConfig {
  /** The BFF's base URL. */
  bffUrl: string;
  /** The OpenID Connect issuer; null when the platform accepts no sign-in. */
  issuer: string | null;
  /** This app's OAuth2 client id. */
  clientId: string;
  /** The audience the BFF checks access tokens for. */
  audience: string;
}

export async function loadConfig(): Promise<PlatformConfig> {
  const answer = await fetch("/config.json", { cache: "no-cache" });
  if (!answer.ok) throw new Error(`/config.json answered ${answer.status}`);
  return (await answer.json()) as PlatformConfig;
}
