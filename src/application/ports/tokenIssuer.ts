/** Signs a user token the service itself accepts: development mode only (POST /api/dev/session). */
export interface TokenIssuer {
  issue(userId: string, roles?: readonly string[]): { token: string; expiresAt: Date };
}
