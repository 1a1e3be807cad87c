function payloadOf(token: string): Record<string, unknown> | null {
  const payload = token.split('.')[1];
  if (payload === undefined) return null;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '=');
    const json = new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
    const value: unknown = JSON.parse(json);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * When a JWT expires (ms since the epoch), read from its payload without verifying it (the
 * server verifies): only to schedule the refresh. Null when it has no readable `exp`.
 */
export function tokenExpiresAt(token: string): number | null {
  const exp = payloadOf(token)?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
}

/** The user a JWT names (`sub`), unverified: to recognise the user's own messages. */
export function tokenSubject(token: string): string | null {
  const sub = payloadOf(token)?.sub;
  return typeof sub === 'string' ? sub : null;
}

/** The roles a JWT carries (`roles`), unverified: only to show what the server will allow. */
export function tokenRoles(token: string): string[] {
  const roles = payloadOf(token)?.roles;
  return Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [];
}
